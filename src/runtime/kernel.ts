// A kernel is declared once: its storage bindings (name, access, element type) and its uniforms (name, type).
// From that declaration the runtime generates the WGSL header (the `Params` struct, every `@binding` line, the
// workgroup size) and the entry point, and packs uniforms by name with WGSL's layout rules. A shader file in
// shaders/ holds only the kernel's own body: `fn run(i: u32)` for one invocation (or `fn run(lid, group)` for
// kernels that work per workgroup), plus its helpers. Files may use `${NAME}` placeholders and `#if ${FLAG}`
// blocks (wgsl-preprocessor), filled from the declaration's constants, and `#include "file.wgsl"` lines.
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';
import { TokenwaveError } from '../util/errors.js';
import { platform } from './platform.js';

export type Constant = number | string | boolean;

/** Storage access: read-only, or read-write. */
export type Access = 'read' | 'write';

/** Element types of storage arrays. */
export type ElementType = 'f32' | 'i32' | 'u32' | 'vec2f' | 'vec4f';

/** Uniform field types. `vec8u` holds up to 8 integers (shapes, strides) as `array<vec4u, 2>`, read with `at8`;
 * negative values are stored as their two's-complement bits. */
export type UniformType = 'u32' | 'i32' | 'f32' | 'vec8u';

export interface Binding {
  name: string;
  access: Access;
  type: ElementType;
}

export const read = (name: string, type: ElementType = 'f32'): Binding => ({ name, access: 'read', type });
export const write = (name: string, type: ElementType = 'f32'): Binding => ({ name, access: 'write', type });

export interface KernelSpec {
  /** Name used in errors, the FLOP ledger and the profiler, with its variant (e.g. 'matmul-wide'). */
  name: string;
  /** File under shaders/ (or an absolute path, for kernels kept outside the package). */
  file: string;
  constants?: Record<string, Constant>;
  /** Storage buffers, bound at 1..n in this order. */
  bindings: readonly Binding[];
  /** Uniform fields in declaration order (the runtime adds `invocations` for per-invocation kernels). */
  uniforms?: Readonly<Record<string, UniformType>>;
  /** Invocations per workgroup (default 64); the WGSL sees it as the constant `WG`. */
  workgroupSize?: number;
  /**
   * 'invocation' (default): the body's `fn run(i: u32)` runs for each flat invocation index below
   * `u.invocations`. 'workgroup': `fn run(lid: u32, group: u32)` runs for every invocation with no bounds
   * check, so the body may use barriers.
   */
  entry?: 'invocation' | 'workgroup';
  /** WGSL extensions the body uses ('subgroups': only where the device has the feature). */
  enables?: readonly 'subgroups'[];
}

export type UniformValues = Readonly<Record<string, number | readonly number[]>>;

export class KernelCompileError extends TokenwaveError {
  override name = 'KernelCompileError';
}

/** A kernel used against its declaration: an unknown or missing uniform or binding, a value of the wrong type. */
export class KernelDeclarationError extends TokenwaveError {
  override name = 'KernelDeclarationError';
}

interface UniformField {
  name: string;
  type: UniformType;
  offset: number;
}

export interface UniformLayout {
  fields: UniformField[];
  /** Bytes of the uniform block (a multiple of 16; 0 when the kernel has no uniforms). */
  bytes: number;
}

const WGSL_TYPE: Record<UniformType, string> = { u32: 'u32', i32: 'i32', f32: 'f32', vec8u: 'array<vec4u, 2>' };
const ALIGN: Record<UniformType, number> = { u32: 4, i32: 4, f32: 4, vec8u: 16 };
const SIZE: Record<UniformType, number> = { u32: 4, i32: 4, f32: 4, vec8u: 32 };
const roundUp = (n: number, to: number) => Math.ceil(n / to) * to;

function uniformFields(spec: KernelSpec): [string, UniformType][] {
  const declared = Object.entries(spec.uniforms ?? {});
  if ((spec.entry ?? 'invocation') === 'invocation') {
    if (declared.some(([name]) => name === 'invocations')) {
      throw new KernelDeclarationError(`kernel '${spec.name}': 'invocations' is filled by the runtime; do not declare it`);
    }
    declared.push(['invocations', 'u32']);
  }
  return declared;
}

/** Offsets as WGSL lays out the uniform struct (each field at a multiple of its alignment). */
export function uniformLayout(spec: KernelSpec): UniformLayout {
  let offset = 0;
  const fields = uniformFields(spec).map(([name, type]) => {
    if (!(type in WGSL_TYPE)) throw new KernelDeclarationError(`kernel '${spec.name}': uniform '${name}' has unknown type '${type}'`);
    offset = roundUp(offset, ALIGN[type]);
    const field = { name, type, offset };
    offset += SIZE[type];
    return field;
  });
  return { fields, bytes: fields.length === 0 ? 0 : roundUp(offset, 16) };
}

const U32_MAX = 2 ** 32 - 1;

/**
 * Writes `values` (and the runtime's `invocations`) into `target` at `at` by field name, checking every name and
 * value against the declaration.
 */
export function packUniforms(kernel: string, layout: UniformLayout, values: UniformValues, invocations: number, target: DataView, at: number): void {
  const fail = (message: string) => {
    throw new KernelDeclarationError(`kernel '${kernel}': ${message}`);
  };
  let given = 0;
  for (const field of layout.fields) {
    const value = field.name === 'invocations' ? invocations : values[field.name];
    if (value === undefined) fail(`uniform '${field.name}' (${field.type}) was not given`);
    if (field.name !== 'invocations') given++;
    const offset = at + field.offset;
    if (field.type === 'vec8u') {
      if (!Array.isArray(value) || value.length > 8) fail(`uniform '${field.name}' needs up to 8 integers, got ${String(value)}`);
      const list = value as readonly number[];
      for (let i = 0; i < 8; i++) {
        const v = list[i] ?? 0;
        if (!Number.isInteger(v) || v < -(2 ** 31) || v > U32_MAX) fail(`uniform '${field.name}'[${i}] must be an integer, got ${v}`);
        target.setUint32(offset + 4 * i, v >>> 0, true);
      }
      continue;
    }
    if (typeof value !== 'number') fail(`uniform '${field.name}' (${field.type}) needs a number, got ${String(value)}`);
    const v = value as number;
    if (field.type === 'u32') {
      if (!Number.isInteger(v) || v < 0 || v > U32_MAX) fail(`uniform '${field.name}' (u32) must be an integer in [0, 2^32), got ${v}`);
      target.setUint32(offset, v, true);
    } else if (field.type === 'i32') {
      if (!Number.isInteger(v) || v < -(2 ** 31) || v >= 2 ** 31) fail(`uniform '${field.name}' (i32) must be a 32-bit integer, got ${v}`);
      target.setInt32(offset, v, true);
    } else {
      target.setFloat32(offset, v, true);
    }
  }
  if (Object.keys(values).length > given) {
    const declared = layout.fields.map((f) => f.name).filter((name) => name !== 'invocations');
    const unknown = Object.keys(values).find((k) => !declared.includes(k));
    fail(`unknown uniform '${unknown}' (declared: ${declared.join(', ') || 'none'})`);
  }
}

const sources = new Map<string, string>();

/** A shader file's text with its `#include "file.wgsl"` lines replaced by those files (from shaders/). */
function shaderSource(file: string): string {
  let text = sources.get(file);
  if (text === undefined) {
    text = platform.shaderText(file).replace(
      /^#include "([\w.]+)"\s*$/gm,
      (_, included: string) => shaderSource(included),
    );
    sources.set(file, text);
  }
  return text;
}

function formatConstant(value: Constant): string {
  if (typeof value === 'number' && !Number.isInteger(value)) return `${value}f`;
  return String(value);
}

function location(spec: KernelSpec): string {
  return `kernel '${spec.name}' (${spec.file.startsWith('/') ? spec.file : `shaders/${spec.file}`})`;
}

/** The body of a kernel file with its placeholders filled and its #if blocks resolved. */
function renderBody(spec: KernelSpec): string {
  const text = shaderSource(spec.file);
  if (/@binding\s*\(|\bstruct\s+Params\b|var\s*<\s*uniform/.test(text)) {
    throw new KernelDeclarationError(`${location(spec)} declares its own bindings or uniforms: the runtime generates them from the kernel's declaration`);
  }
  const parts = text.split(/\$\{(\w+)\}/);
  const strings: string[] = [];
  const values: Constant[] = [];
  for (let i = 0; i < parts.length; i++) {
    if (i % 2 === 0) {
      strings.push(parts[i]!);
      continue;
    }
    const key = parts[i]!;
    const value = spec.constants?.[key];
    if (value === undefined) throw new KernelCompileError(`${location(spec)}: no value given for \${${key}}`);
    // #if takes the raw value; elsewhere it is spliced into WGSL text.
    const directive = /#(if|elif)\s*$/.test(strings[strings.length - 1]!);
    values.push(directive ? value : formatConstant(value));
  }
  const template = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  try {
    return wgsl(template, ...values);
  } catch (err) {
    throw new KernelCompileError(`${location(spec)}: ${(err as Error).message}`);
  }
}

const STORAGE_TYPE: Record<ElementType, string> = { f32: 'f32', i32: 'i32', u32: 'u32', vec2f: 'vec2f', vec4f: 'vec4f' };

/** The final WGSL of a kernel: generated header, shared helpers, the file's body, generated entry point. */
export function renderKernel(spec: KernelSpec): string {
  const layout = uniformLayout(spec);
  const names = new Set<string>();
  for (const b of spec.bindings) {
    if (names.has(b.name)) throw new KernelDeclarationError(`kernel '${spec.name}': binding '${b.name}' is declared twice`);
    if (!(b.type in STORAGE_TYPE)) throw new KernelDeclarationError(`kernel '${spec.name}': binding '${b.name}' has unknown type '${b.type}'`);
    names.add(b.name);
  }
  const header = [`// ${spec.name}: header generated from the kernel's declaration`];
  if (spec.enables?.includes('subgroups')) {
    // a subgroup's lanes agree on the values that steer its subgroup operations (rows handed out per subgroup),
    // which WGSL's analysis, proving uniformity over the whole workgroup, cannot see
    header.unshift('enable subgroups;', 'diagnostic(off, subgroup_uniformity);');
  }
  header.push(`const WG: u32 = ${spec.workgroupSize ?? 64}u;`);
  if (layout.bytes > 0) {
    header.push(`struct Params { ${layout.fields.map((f) => `${f.name}: ${WGSL_TYPE[f.type]}`).join(', ')} }`);
    header.push('@group(0) @binding(0) var<uniform> u: Params;');
  }
  spec.bindings.forEach((b, i) => {
    header.push(`@group(0) @binding(${i + 1}) var<storage, ${b.access === 'read' ? 'read' : 'read_write'}> ${b.name}: array<${STORAGE_TYPE[b.type]}>;`);
  });
  const prelude = '@compute @workgroup_size(WG)\nfn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,\n        @builtin(local_invocation_index) lid: u32) {\n';
  const entry =
    (spec.entry ?? 'invocation') === 'invocation'
      ? `${prelude}  let i = (wid.x + wid.y * nwg.x) * WG + lid;\n  if (i >= u.invocations) { return; }\n  run(i);\n}\n`
      : `${prelude}  run(lid, wid.x + wid.y * nwg.x);\n}\n`;
  return `${header.join('\n')}\n${shaderSource('common.wgsl')}\n${renderBody(spec)}\n${entry}`;
}

/** Turns a WGSL compilation message into an error naming the kernel, its line and column and the source line. */
export function compileErrorMessage(spec: KernelSpec, code: string, messages: readonly GPUCompilationMessage[]): string {
  const lines = code.split('\n');
  const errors = messages.filter((m) => m.type === 'error');
  const described = errors.map((m) => {
    const source = lines[m.lineNum - 1] ?? '';
    const caret = m.linePos > 0 ? ' '.repeat(m.linePos - 1) + '^' : '';
    return `  line ${m.lineNum}, column ${m.linePos}: ${m.message}\n    ${source}\n    ${caret}`;
  });
  return `WGSL compile error in ${location(spec)}, generated source:\n${described.join('\n')}`;
}
