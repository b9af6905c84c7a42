// The GPU runtime: one device, a pipeline cache, a buffer pool and a command stream that batches dispatches into
// one encoder and submits only when it must. GPU errors (compile, validation, out-of-memory, device loss) are
// collected and rethrown as JavaScript errors at the next synchronisation point (read, sync), never lost.
import { describeAdapter, isLlvmpipe, type AdapterChoice } from './adapter-info.js';
import { platform } from './platform.js';
import {
  compileErrorMessage,
  KernelCompileError,
  KernelDeclarationError,
  packUniforms,
  renderKernel,
  uniformLayout,
  type KernelSpec,
  type UniformLayout,
  type UniformValues,
} from './kernel.js';
import { BufferPool } from './pool.js';
import { DispatchTimer, type TimedDispatches, type TimingMethod } from './timer.js';
import { ArgumentError, TokenwaveError } from '../util/errors.js';

export class GpuValidationError extends TokenwaveError {
  override name = 'GpuValidationError';
}
/** The GPU device is gone (a driver reset, a GPU removed): a fault outside the command, which may well pass if run again. */
export class DeviceLostError extends TokenwaveError {
  override name = 'DeviceLostError';
  constructor(readonly reason: string) {
    super(`GPU device lost: ${reason}; run the command again (a driver reset passes; if it happens again, run tokenwave doctor)`, { retryable: true });
  }
}

export interface CompiledKernel {
  spec: KernelSpec;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  uniforms: UniformLayout;
  id: number;
}

/**
 * Which kernel variants to run: 'cpu' for software adapters (tall register tiles, wide gathers: llvmpipe and
 * lavapipe), 'gpu' for hardware adapters. Decided once per runtime from the adapter, or forced.
 */
export type KernelVariants = 'cpu' | 'gpu';

export interface RuntimeOptions {
  /** Backend to force ('vulkan', 'opengles', ...); default: TOKENWAVE_BACKEND or automatic. */
  backend?: string;
  /** Kernel variants to use ('auto': by adapter); default: TOKENWAVE_KERNELS or 'auto'. */
  kernelVariants?: KernelVariants | 'auto';
  /** The most GPU memory tokenwave may allocate, in MiB (a GPU shared with others); default: TOKENWAVE_GPU_MEMORY_MIB, else what the GPU gives. */
  memoryBudgetMiB?: number;
}

/** The memory budget in bytes from the option or TOKENWAVE_GPU_MEMORY_MIB; undefined: none. */
function memoryBudget(option: number | undefined): number | undefined {
  const fromEnv = platform.setting('TOKENWAVE_GPU_MEMORY_MIB');
  const value = option ?? (fromEnv === undefined || fromEnv === '' ? undefined : Number(fromEnv));
  if (value === undefined) return undefined;
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new ArgumentError(`${option === undefined ? `TOKENWAVE_GPU_MEMORY_MIB=${fromEnv}` : `memoryBudgetMiB ${option}`}: give the MiB of GPU memory tokenwave may use, a positive number`);
  }
  return value * 2 ** 20;
}

/** One dispatch of a compiled kernel: uniforms and storage buffers by their declared names. */
export interface KernelRun {
  uniforms?: UniformValues;
  /** Uniform values that change from step to step (a seed, a learning rate): evaluated again on every replay of
   * a recording, over `uniforms`. */
  replayUniforms?: () => UniformValues;
  buffers: Readonly<Record<string, GPUBuffer | BufferRange>>;
  /** Per-invocation kernels: how many invocations (the workgroup count follows). */
  invocations?: number;
  /** Per-workgroup kernels: how many workgroups. */
  workgroups?: number;
}

/** Part of a buffer bound on its own (a tensor that lives at an offset in a larger one: a parameter arena). */
export interface BufferRange {
  buffer: GPUBuffer;
  /** Bytes from the buffer's start: a multiple of the device's minStorageBufferOffsetAlignment. */
  offset: number;
  size: number;
}

const bufferOf = (b: GPUBuffer | BufferRange): GPUBuffer => ('offset' in b && 'buffer' in b ? b.buffer : (b as GPUBuffer));

function kernelVariants(requested: string | undefined, software: boolean): KernelVariants {
  const value = (requested ?? (platform.setting('TOKENWAVE_KERNELS') || 'auto')).toLowerCase();
  if (value === 'auto') return software ? 'cpu' : 'gpu';
  if (value === 'cpu' || value === 'gpu') return value;
  throw new KernelDeclarationError(`unknown kernel variants '${value}' (TOKENWAVE_KERNELS): use auto, cpu or gpu`);
}

export interface RuntimeStats {
  dispatches: number;
  submits: number;
  pipelines: number;
}

// Buffer usage bits spelled out: GPUBufferUsage is a global that exists only once Dawn's bindings are loaded.
/** Storage buffers that can be uploaded to, read back and copied. */
export const STORAGE_USAGE = 0x80 /* STORAGE */ | 0x4 /* COPY_SRC */ | 0x8; /* COPY_DST */
const MAP_READ_USAGE = 0x1 /* MAP_READ */ | 0x8; /* COPY_DST */
const UNIFORM_USAGE = 0x40 /* UNIFORM */ | 0x8; /* COPY_DST */

/** What a recorded step encodes, in order: dispatches, buffer copies and host callbacks. */
type RecordedCommand =
  | {
      kind: 'dispatch';
      kernel: CompiledKernel;
      group: GPUBindGroup;
      offset: number | undefined;
      x: number;
      y: number;
      count: number;
      /** Set where uniforms change per step: packed again at each replay. */
      repack?: { fixed: UniformValues | undefined; changing: () => UniformValues };
    }
  | { kind: 'copy'; source: GPUBuffer; sourceOffset: number; target: GPUBuffer; targetOffset: number; bytes: number }
  | { kind: 'hook'; run: () => void };

/**
 * A step's GPU work encoded once and replayable: its dispatches with their bind groups, the uniform arena as it was
 * packed, and every buffer it touches (which the recorder must keep from being reused by anything else).
 */
export interface Recording {
  readonly commands: readonly RecordedCommand[];
  readonly arena: Uint8Array;
  readonly buffers: ReadonlySet<GPUBuffer>;
}

interface Recorder {
  commands: RecordedCommand[];
  buffers: Set<GPUBuffer>;
  /** Where the recording's uniforms start in the arena (its dispatches' offsets are relative to it). */
  arenaStart: number;
  /** Why the recording cannot be replayed (it uploaded data or had to submit midway); undefined while it can. */
  broken: string | undefined;
}

const ARENA_BYTES = 1 << 20;
const MAX_CACHED_BIND_GROUPS = 8192;

export class Runtime {
  readonly device: GPUDevice;
  readonly adapter: GPUAdapter;
  readonly backend: string;
  readonly featureLevel: 'core' | 'compatibility';
  readonly software: boolean;
  /** Mesa's llvmpipe (either backend): a software adapter whose per-lane loads some kernel rules are written for. */
  readonly llvmpipe: boolean;
  readonly adapterName: string;
  readonly attempts: string[];
  readonly kernelVariants: KernelVariants;
  /** The subgroup size where the device has `subgroups` and the adapter's subgroups have one fixed size
   * (subgroupMinSize = subgroupMaxSize): subgroup kernels are candidates only there, their reductions' adds known. */
  readonly subgroupSize: number | undefined;
  readonly pool: BufferPool;
  readonly stats: RuntimeStats = { dispatches: 0, submits: 0, pipelines: 0 };

  /** Dawn's instance must stay referenced while the device lives. */
  readonly gpu: GPU;
  private readonly kernels = new Map<string, CompiledKernel>();
  /** Spec -> compiled kernel, by identity and by content: dispatches skip re-rendering the WGSL. */
  private readonly bySpecObject = new WeakMap<KernelSpec, CompiledKernel>();
  private readonly bySpec = new Map<string, CompiledKernel>();
  private kernelIds = 0;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private readonly pendingChecks: Promise<void>[] = [];
  private readonly errors: Error[] = [];
  private lostReason: string | undefined;
  private readonly memoryPressureHandlers = new Set<() => void>();
  /** Fault injection for the device-loss tests: TOKENWAVE_LOSE_DEVICE_AT_DISPATCH=<n> loses the device at the first submit after n dispatches. */
  private readonly loseAtDispatch = Number(platform.setting('TOKENWAVE_LOSE_DEVICE_AT_DISPATCH')) || undefined;

  private encoder: GPUCommandEncoder | undefined;
  private pass: GPUComputePassEncoder | undefined;
  private readonly uniformAlign: number;
  /** Where a storage binding may start in its buffer (bytes): at most 256 on every WebGPU device. */
  readonly storageOffsetAlign: number;
  private readonly arenaMirror = new Uint8Array(ARENA_BYTES);
  private readonly arenaView = new DataView(this.arenaMirror.buffer);
  private arena: GPUBuffer;
  private arenaUsed = 0;
  private timer: DispatchTimer | undefined;
  private recorder: Recorder | undefined;
  /** Set by withoutRunning(): submits drop the encoded work instead. */
  private discarding = false;
  private readonly maxWorkgroupsPerDimension: number;

  private constructor(choice: AdapterChoice, device: GPUDevice, options: RuntimeOptions) {
    this.gpu = choice.gpu;
    this.adapter = choice.adapter;
    this.device = device;
    this.backend = choice.backend;
    this.featureLevel = choice.featureLevel;
    this.software = choice.software;
    this.llvmpipe = isLlvmpipe(choice.adapter);
    const info = choice.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
    this.subgroupSize = device.features.has('subgroups') && info.subgroupMinSize !== undefined && info.subgroupMinSize === info.subgroupMaxSize ? info.subgroupMinSize : undefined;
    this.attempts = choice.attempts;
    this.kernelVariants = kernelVariants(options.kernelVariants, choice.software);
    this.adapterName = describeAdapter(choice.adapter);
    this.pool = new BufferPool(device, {
      budgetBytes: memoryBudget(options.memoryBudgetMiB),
      makeRoom: () => {
        for (const handler of this.memoryPressureHandlers) handler();
        this.trim();
      },
      onOutOfMemory: (err) => this.errors.push(err),
    });
    this.uniformAlign = device.limits.minUniformBufferOffsetAlignment;
    this.storageOffsetAlign = device.limits.minStorageBufferOffsetAlignment;
    this.maxWorkgroupsPerDimension = device.limits.maxComputeWorkgroupsPerDimension;
    this.arena = device.createBuffer({ size: ARENA_BYTES, usage: UNIFORM_USAGE, label: 'uniform arena' });
    device.addEventListener('uncapturederror', (event) => {
      this.errors.push(new GpuValidationError((event as GPUUncapturedErrorEvent).error.message));
    });
    void device.lost.then((info) => {
      if (info.reason !== 'destroyed') this.lostReason = info.message || String(info.reason);
    });
  }

  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    kernelVariants(options.kernelVariants, false); // refuse bad values before opening a device
    memoryBudget(options.memoryBudgetMiB);
    const choice = await platform.chooseAdapter(options.backend);
    const { adapter } = choice;
    const requiredLimits: Record<string, number> = {};
    for (const key in adapter.limits) {
      const value = (adapter.limits as unknown as Record<string, unknown>)[key];
      if (typeof value === 'number') requiredLimits[key] = value;
    }
    // 'subgroups' is newer than @webgpu/types' list of feature names
    const wanted = ['timestamp-query', 'shader-f16', 'subgroups'] as GPUFeatureName[];
    const requiredFeatures = wanted.filter((f) => adapter.features.has(f));
    const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'tokenwave' });
    return new Runtime(choice, device, options);
  }

  get limits(): GPUSupportedLimits {
    return this.device.limits;
  }

  get features(): string[] {
    return [...this.device.features].sort();
  }

  /** The compiled pipeline for a kernel, from the cache keyed by its final WGSL. */
  kernel(spec: KernelSpec): CompiledKernel {
    const same = this.bySpecObject.get(spec);
    if (same) return same;
    const specKey = JSON.stringify([spec.name, spec.file, spec.entry, spec.workgroupSize, spec.bindings, spec.uniforms, spec.constants, spec.enables]);
    const known = this.bySpec.get(specKey);
    if (known) {
      this.bySpecObject.set(spec, known);
      return known;
    }
    const code = renderKernel(spec);
    const uniforms = uniformLayout(spec);
    const key = `${spec.bindings.map((b) => b.access).join(',')}\n${code}`;
    const cached = this.kernels.get(key);
    if (cached) {
      this.bySpec.set(specKey, cached);
      this.bySpecObject.set(spec, cached);
      return cached;
    }

    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code, label: spec.name });
    const entries: GPUBindGroupLayoutEntry[] = [];
    if (uniforms.bytes > 0) {
      entries.push({ binding: 0, visibility: 4 /* COMPUTE */, buffer: { type: 'uniform', hasDynamicOffset: true } });
    }
    spec.bindings.forEach((binding, i) => {
      entries.push({
        binding: i + 1,
        visibility: 4,
        buffer: { type: binding.access === 'read' ? 'read-only-storage' : 'storage' },
      });
    });
    const layout = this.device.createBindGroupLayout({ entries, label: spec.name });
    const pipeline = this.device.createComputePipeline({
      layout: this.device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
      label: spec.name,
    });
    const compiled = { spec, pipeline, layout, uniforms, id: ++this.kernelIds };
    this.kernels.set(key, compiled);
    this.bySpec.set(specKey, compiled);
    this.bySpecObject.set(spec, compiled);
    this.stats.pipelines++;

    const scope = this.device.popErrorScope();
    const forget = () => {
      this.kernels.delete(key);
      this.bySpec.delete(specKey);
      this.bySpecObject.delete(spec);
    };
    this.pendingChecks.push(
      Promise.all([module.getCompilationInfo(), scope]).then(([info, error]) => {
        if (info.messages.some((m) => m.type === 'error')) {
          forget();
          this.errors.push(new KernelCompileError(compileErrorMessage(spec, code, info.messages)));
        } else if (error) {
          forget();
          this.errors.push(new GpuValidationError(`kernel '${spec.name}': ${error.message}`));
        }
      }),
    );
    return compiled;
  }

  /** Compiles a kernel now and throws its compile error, if any (otherwise errors surface at the next sync). */
  async compile(spec: KernelSpec): Promise<CompiledKernel> {
    const compiled = this.kernel(spec);
    await this.check();
    return compiled;
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) {
      id = this.nextBufferId++;
      this.bufferIds.set(buffer, id);
    }
    return id;
  }

  private bindGroup(kernel: CompiledKernel, buffers: readonly (GPUBuffer | BufferRange)[]): GPUBindGroup {
    let key = String(kernel.id);
    for (const b of buffers) {
      const buffer = bufferOf(b);
      key += buffer === b ? `:${this.bufferId(buffer)}` : `:${this.bufferId(buffer)}@${(b as BufferRange).offset}+${(b as BufferRange).size}`;
    }
    let group = this.bindGroups.get(key);
    if (group) return group;
    const entries: GPUBindGroupEntry[] = [];
    if (kernel.uniforms.bytes > 0) {
      entries.push({ binding: 0, resource: { buffer: this.arena, size: kernel.uniforms.bytes } });
    }
    buffers.forEach((b, i) => entries.push({ binding: i + 1, resource: bufferOf(b) === b ? { buffer: b as GPUBuffer } : { ...(b as BufferRange) } }));
    group = this.device.createBindGroup({ layout: kernel.layout, entries, label: kernel.spec.name });
    if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
    this.bindGroups.set(key, group);
    return group;
  }

  private encoderNow(): GPUCommandEncoder {
    this.assertAlive();
    this.encoder ??= this.device.createCommandEncoder({ label: 'tokenwave step' });
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.encoderNow().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = undefined;
  }

  /**
   * Encodes one dispatch of a kernel, with its uniforms and buffers given by their declared names (checked
   * against the declaration). The uniforms get their own slot in the uniform arena, so a later dispatch in the
   * same encoder can never overwrite them (the writeBuffer hazard). Workgroup counts past the per-dimension
   * limit are folded into y (the generated entry point indexes with `wid.x + wid.y * nwg.x`).
   */
  run(kernel: CompiledKernel, r: KernelRun): number {
    const spec = kernel.spec;
    const perInvocation = (spec.entry ?? 'invocation') === 'invocation';
    const count = perInvocation ? r.invocations : r.workgroups;
    if (count === undefined || !Number.isInteger(count) || count < 0) {
      throw new KernelDeclarationError(`kernel '${spec.name}': needs ${perInvocation ? 'an invocation' : 'a workgroup'} count, got ${count}`);
    }
    const buffers = spec.bindings.map((b) => {
      const buffer = r.buffers[b.name];
      if (!buffer) throw new KernelDeclarationError(`kernel '${spec.name}': no buffer given for binding '${b.name}'`);
      if (bufferOf(buffer) !== buffer && (buffer as BufferRange).offset % this.storageOffsetAlign !== 0) {
        throw new KernelDeclarationError(`kernel '${spec.name}': binding '${b.name}' starts ${(buffer as BufferRange).offset} bytes into its buffer, not a multiple of this device's ${this.storageOffsetAlign}`);
      }
      return buffer;
    });
    if (Object.keys(r.buffers).length !== buffers.length) {
      const unknown = Object.keys(r.buffers).find((name) => !spec.bindings.some((b) => b.name === name));
      throw new KernelDeclarationError(`kernel '${spec.name}': unknown binding '${unknown}' (declared: ${spec.bindings.map((b) => b.name).join(', ')})`);
    }
    const workgroups = perInvocation ? Math.ceil(count / (spec.workgroupSize ?? 64)) : count;
    if (workgroups === 0) return -1;
    const bytes = kernel.uniforms.bytes;
    if ((bytes > 0 && this.arenaUsed + bytes > ARENA_BYTES) || this.timer?.full) this.flush();
    let offset: number | undefined;
    if (bytes > 0) {
      offset = this.arenaUsed;
      this.pack(kernel, r.uniforms, r.replayUniforms, count, offset);
      this.arenaUsed += Math.ceil(bytes / this.uniformAlign) * this.uniformAlign;
    }
    const group = this.bindGroup(kernel, buffers);
    const x = Math.min(workgroups, this.maxWorkgroupsPerDimension);
    const y = Math.ceil(workgroups / x);
    if (this.recorder) {
      const repack = r.replayUniforms && { fixed: r.uniforms, changing: r.replayUniforms };
      const relative = offset === undefined ? undefined : offset - this.recorder.arenaStart;
      this.recorder.commands.push({ kind: 'dispatch', kernel, group, offset: relative, x, y, count, ...(repack ? { repack } : {}) });
      for (const b of buffers) this.recorder.buffers.add(bufferOf(b));
    }
    // Timestamps need a pass of the dispatch's own; otherwise dispatches share one pass.
    const timed = this.timer?.passDescriptor();
    if (timed) this.endPass();
    const pass = timed ? this.encoderNow().beginComputePass(timed) : this.computePass();
    this.encode(pass, kernel, group, offset, x, y);
    if (timed) pass.end();
    return this.timer ? this.timer.note(spec.name, kernel.pipeline, group, offset, x, y) : -1;
  }

  /** Packs a dispatch's uniforms into the arena at `offset`: the fixed values, overlaid with the changing ones. */
  private pack(kernel: CompiledKernel, fixed: UniformValues | undefined, changing: (() => UniformValues) | undefined, count: number, offset: number): void {
    const values = changing ? { ...fixed, ...changing() } : (fixed ?? {});
    packUniforms(kernel.spec.name, kernel.uniforms, values, count, this.arenaView, offset);
  }

  /** Encodes one dispatch into `pass`. */
  private encode(pass: GPUComputePassEncoder, kernel: CompiledKernel, group: GPUBindGroup, offset: number | undefined, x: number, y: number): void {
    pass.setPipeline(kernel.pipeline);
    if (offset === undefined) pass.setBindGroup(0, group);
    else pass.setBindGroup(0, group, [offset]);
    pass.dispatchWorkgroups(x, y);
    this.stats.dispatches++;
  }

  /** Whether dispatches are being timed (by the profiler). */
  get timing(): boolean {
    return this.timer !== undefined;
  }

  /** Starts timing every dispatch (for the profiler) by `method`; returns the method used. */
  startTiming(method: TimingMethod = this.features.includes('timestamp-query') ? 'timestamps' : 'isolated'): TimingMethod {
    if (this.timer) throw new Error('dispatch timing is already on');
    if (method === 'timestamps' && !this.features.includes('timestamp-query')) {
      throw new KernelDeclarationError(`this adapter (${this.adapterName}) has no timestamp queries: time dispatches in isolation instead`);
    }
    this.flush();
    this.timer = new DispatchTimer(this.device, method, this.arena);
    return method;
  }

  /** Stops timing once all timed work has run, and returns every timed dispatch's time (and the timestamps' resolution). */
  async stopTiming(): Promise<TimedDispatches> {
    const timer = this.timer;
    if (!timer) throw new Error('dispatch timing is not on');
    await this.sync();
    this.timer = undefined;
    const timings = await timer.finish();
    await this.check();
    return timings;
  }

  /** Encodes a buffer-to-buffer copy in the current command stream. */
  copy(source: GPUBuffer, sourceOffset: number, target: GPUBuffer, targetOffset: number, bytes: number): void {
    this.endPass();
    this.encoderNow().copyBufferToBuffer(source, sourceOffset, target, targetOffset, bytes);
    if (this.recorder) {
      this.recorder.commands.push({ kind: 'copy', source, sourceOffset, target, targetOffset, bytes });
      this.recorder.buffers.add(source).add(target);
    }
  }

  /** Starts recording what is encoded from here. Recording and dispatch timing exclude each other. */
  startRecording(): void {
    if (this.recorder) throw new Error('a recording is already in progress');
    if (this.timer) throw new Error('cannot record while dispatches are timed');
    this.recorder = { commands: [], buffers: new Set(), arenaStart: this.arenaUsed, broken: undefined };
  }

  /** Ends the recording: the replayable step, or the reason it cannot be replayed. */
  stopRecording(): Recording | string {
    const recorder = this.recorder;
    if (!recorder) throw new Error('no recording is in progress');
    this.recorder = undefined;
    if (recorder.broken) return recorder.broken;
    const arena = this.arenaMirror.slice(recorder.arenaStart, this.arenaUsed);
    return { commands: recorder.commands, arena, buffers: recorder.buffers };
  }

  /** Registers `run` to be called at this point of every replay of the step being recorded (no-op otherwise). */
  onReplay(run: () => void): void {
    this.recorder?.commands.push({ kind: 'hook', run });
  }

  /**
   * Encodes a recorded step again: the same dispatches on the same buffers, with the recorded uniforms (those that
   * change per step evaluated again, in the recorded order) and no JavaScript per op.
   */
  replay(recording: Recording): void {
    if (this.recorder || this.timer) throw new Error('cannot replay while recording or timing dispatches');
    if (this.arenaUsed + recording.arena.length > ARENA_BYTES) this.flush();
    const start = this.arenaUsed;
    this.arenaMirror.set(recording.arena, start);
    this.arenaUsed += recording.arena.length;
    for (const c of recording.commands) {
      if (c.kind === 'hook') {
        c.run();
      } else if (c.kind === 'copy') {
        this.copy(c.source, c.sourceOffset, c.target, c.targetOffset, c.bytes);
      } else {
        const offset = c.offset === undefined ? undefined : start + c.offset;
        if (c.repack) this.pack(c.kernel, c.repack.fixed, c.repack.changing, c.count, offset!);
        this.encode(this.computePass(), c.kernel, c.group, offset, c.x, c.y);
      }
    }
  }

  get pendingWork(): boolean {
    return this.encoder !== undefined;
  }

  /**
   * Runs `fn` with every dispatch encoded (so counted, validated and its pipeline compiled) but none submitted:
   * counting a pass's FLOPs need not execute it, which on a CPU adapter is most of the cost. Reads inside fail.
   */
  async withoutRunning<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.recorder || this.timer) throw new Error('cannot skip running work while recording or timing dispatches');
    this.flush();
    this.discarding = true;
    try {
      return await fn();
    } finally {
      this.flush();
      this.discarding = false;
    }
  }

  /** Submits everything encoded so far. */
  flush(): void {
    if (!this.encoder) return;
    if (this.discarding) {
      this.endPass();
      this.encoder = undefined;
      this.arenaUsed = 0;
      return;
    }
    if (this.recorder) this.recorder.broken ??= 'it had to submit midway (a read, a sync, or more uniforms than the arena holds)';
    this.endPass();
    const staging = this.timer?.beforeSubmit(this.encoder, this.arenaMirror.subarray(0, this.arenaUsed));
    if (this.arenaUsed > 0) {
      this.device.queue.writeBuffer(this.arena, 0, this.arenaMirror, 0, this.arenaUsed);
      this.arenaUsed = 0;
    }
    if (this.loseAtDispatch !== undefined && this.lostReason === undefined && this.stats.dispatches >= this.loseAtDispatch) {
      this.loseDevice(`TOKENWAVE_LOSE_DEVICE_AT_DISPATCH=${this.loseAtDispatch}`);
    }
    this.device.pushErrorScope('validation');
    this.device.pushErrorScope('out-of-memory');
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = undefined;
    this.stats.submits++;
    this.timer?.afterSubmit(staging);
    const oom = this.device.popErrorScope();
    const validation = this.device.popErrorScope();
    this.pendingChecks.push(
      Promise.all([oom, validation]).then(([o, v]) => {
        if (o) this.errors.push(new GpuValidationError(`GPU out of memory: ${o.message}`));
        if (v) this.errors.push(new GpuValidationError(v.message));
      }),
    );
  }

  /** Uploads data; flushes first when encoded work might still read the old contents. */
  write(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
    this.assertAlive();
    if (this.recorder) this.recorder.broken ??= `it uploads data midway (${data.byteLength} bytes into '${buffer.label}')`;
    if (this.pendingWork) this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  /**
   * Uploads into a buffer that no work encoded so far uses (a constant made on first use): no flush is needed for
   * order, and a recording stays replayable, since the data stays in place for every replay.
   */
  writeFresh(buffer: GPUBuffer, data: ArrayBufferView): void {
    this.assertAlive();
    this.device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  }

  /** Reads `bytes` from a storage buffer once all work encoded so far has run. */
  async read(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
    if (this.discarding) throw new Error(`cannot read '${buffer.label}' while work is encoded without running (withoutRunning)`);
    const staging = this.pool.acquire(bytes, MAP_READ_USAGE, 'readback');
    this.copy(buffer, offset, staging, 0, Math.ceil(bytes / 4) * 4);
    this.flush();
    try {
      await platform.waitForGpu(staging.mapAsync(1 /* GPUMapMode.READ */, 0, Math.ceil(bytes / 4) * 4));
    } catch (err) {
      await this.check();
      throw err;
    }
    const copy = staging.getMappedRange(0, Math.ceil(bytes / 4) * 4).slice(0, bytes);
    staging.unmap();
    this.pool.release(staging);
    await this.check();
    return copy;
  }

  /** Submits pending work, waits for the GPU to finish, and throws the first GPU error since the last check. */
  async sync(): Promise<void> {
    this.flush();
    await platform.waitForGpu(this.device.queue.onSubmittedWorkDone());
    await this.check();
  }

  /** Throws the first error the GPU reported since the last check. */
  async check(): Promise<void> {
    while (this.pendingChecks.length > 0) await platform.waitForGpu(Promise.all(this.pendingChecks.splice(0)));
    this.assertAlive();
    const first = this.errors.shift();
    this.errors.length = 0;
    if (first) throw first;
  }

  /**
   * `handler` releases what it can to the pool (a cache of planned steps) when the memory budget would refuse a
   * buffer; the pool is trimmed after. Returns the handler's removal.
   */
  onMemoryPressure(handler: () => void): () => void {
    this.memoryPressureHandlers.add(handler);
    return () => this.memoryPressureHandlers.delete(handler);
  }

  /** Loses the device as a driver reset would (fault injection for the tests): every later call throws DeviceLostError. */
  loseDevice(reason: string): void {
    this.lostReason = reason;
    this.device.destroy();
  }

  private assertAlive(): void {
    if (this.lostReason !== undefined) throw new DeviceLostError(this.lostReason);
  }

  /** Flushes and frees pooled buffers that are not in use. */
  trim(): void {
    this.flush();
    this.pool.trim();
    this.bindGroups.clear();
  }

  destroy(): void {
    this.flush();
    this.pool.trim();
    this.bindGroups.clear();
    this.arena.destroy();
    this.device.destroy();
  }
}
