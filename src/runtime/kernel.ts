// WGSL kernels live in shaders/*.wgsl. A kernel file may use `${NAME}` placeholders (filled from constants) and
// wgsl-preprocessor's `#if ${FLAG}` blocks, and `#include "file.wgsl"` lines for shared helpers. The final WGSL text keys the pipeline cache.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wgsl } from 'wgsl-preprocessor/wgsl-preprocessor.js';

const SHADER_DIR = fileURLToPath(new URL('../../shaders/', import.meta.url));

export type Constant = number | string | boolean;

/** Storage buffers bound after the uniform block (binding 0): read-only or read-write. */
export type Access = 'read' | 'write';

export interface KernelSpec {
  /** Name used in errors and the FLOP ledger, e.g. 'matmul'. */
  name: string;
  /** File under shaders/, e.g. 'matmul.wgsl' (or an absolute path, for kernels kept outside the package). */
  file: string;
  entry?: string;
  constants?: Record<string, Constant>;
  /** Storage buffers at bindings 1..n, in order. */
  buffers: Access[];
  /** Bytes of the uniform block at binding 0 (0: none). */
  uniformBytes: number;
}

export class KernelCompileError extends Error {
  override name = 'KernelCompileError';
}

const sources = new Map<string, string>();

/** A kernel file's text with its `#include "common.wgsl"` lines replaced by those files (from shaders/). */
function shaderSource(file: string): string {
  let text = sources.get(file);
  if (text === undefined) {
    text = readFileSync(isAbsolute(file) ? file : SHADER_DIR + file, 'utf8').replace(
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

/** Fills a kernel file's placeholders and resolves its #if blocks. */
export function renderKernel(spec: KernelSpec): string {
  const text = shaderSource(spec.file);
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
    if (value === undefined) {
      throw new KernelCompileError(`kernel '${spec.name}' (shaders/${spec.file}): no value given for \${${key}}`);
    }
    // #if takes the raw value; elsewhere it is spliced into WGSL text.
    const directive = /#(if|elif)\s*$/.test(strings[strings.length - 1]!);
    values.push(directive ? value : formatConstant(value));
  }
  const template = Object.assign([...strings], { raw: [...strings] }) as unknown as TemplateStringsArray;
  try {
    return wgsl(template, ...values);
  } catch (err) {
    throw new KernelCompileError(`kernel '${spec.name}' (shaders/${spec.file}): ${(err as Error).message}`);
  }
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
  return `WGSL compile error in kernel '${spec.name}' (shaders/${spec.file}, generated source):\n${described.join('\n')}`;
}
