// Tensors live in pooled GPU buffers. Views that only change the shape (reshape) share storage, counted by
// references; the buffer returns to the pool when the last tensor using it is disposed. A tensor may also live at
// an offset in a larger storage (tensor/pack.ts: a model's parameters, AdamW's moments), bound as that range alone.
import { STORAGE_USAGE, type BufferRange } from '../runtime/runtime.js';
import { ArgumentError } from '../util/errors.js';
import { engine, type Engine } from './engine.js';

export type DType = 'f32' | 'i32';
export type Shape = readonly number[];

export interface GradNode {
  op: string;
  /** The module path the forward op ran under: its gradient kernels are attributed there too. */
  path: string;
  inputs: readonly Tensor[];
  /**
   * Gradients of the inputs given the output's gradient (null where an input needs none). `prior[k]`, where
   * `addsPrior[k]`: the gradient input k already holds from the branches processed so far, to be added into the
   * returned one (in the same kernel) instead of by a separate addition.
   */
  backward: (grad: Tensor, prior: readonly (Tensor | undefined)[], offers: readonly (GradientOffer | undefined)[]) => (Tensor | null)[];
  addsPrior?: readonly boolean[];
}

/**
 * `offers[k]` of a backward, for input k's gradient (see ops/autograd.ts): `epilogue`, an elementwise map that input
 * k's own op would start its backward with (an activation's derivative), for the kernel making the gradient to
 * apply instead; or `into`, where the gradient is wanted (a parameter's place in its optimizer's gradient arena),
 * for that kernel to write and the backward to return as input k's gradient. The backward sets `taken` when it does.
 */
export interface GradientOffer {
  readonly epilogue?: unknown;
  readonly into?: Tensor;
  taken: boolean;
}

class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i]!;
  }
  return strides;
}

export class Tensor {
  readonly size: number;
  requiresGrad = false;
  grad: Tensor | undefined;
  node: GradNode | undefined;
  /** Set once a backward pass has gone through this tensor's graph (which is then dropped). */
  graphConsumed = false;
  /** The smallest and largest value of an int32 tensor made from host data (labels), for range checks. */
  intRange: [number, number] | undefined;
  private disposed = false;

  private constructor(
    readonly shape: Shape,
    readonly dtype: DType,
    private storage: Storage,
    readonly engine: Engine,
    /** Bytes from the start of the storage's buffer. */
    private offset = 0,
  ) {
    this.size = sizeOf(shape);
    engine.track(this);
  }

  /** A new tensor with uninitialised contents; `fresh`: in a new buffer, which no work encoded so far writes (for
   * a constant uploaded in the middle of a pass). */
  static empty(shape: Shape, dtype: DType = 'f32', fresh = false): Tensor {
    const eng = engine();
    const bytes = Math.max(4, sizeOf(shape) * 4);
    const buffer = eng.runtime.pool.acquire(bytes, STORAGE_USAGE, 'tensor', fresh);
    return new Tensor([...shape], dtype, new Storage(buffer, bytes), eng);
  }

  static from(data: ArrayLike<number>, shape: Shape, dtype: DType = 'f32'): Tensor {
    const n = sizeOf(shape);
    if (data.length !== n) throw new Error(`data has ${data.length} values but shape [${shape.join(', ')}] holds ${n}`);
    const t = Tensor.empty(shape, dtype);
    const array = dtype === 'f32' ? Float32Array.from(data) : Int32Array.from(data);
    if (dtype === 'i32' && n > 0) {
      let [lo, hi] = [array[0]!, array[0]!];
      for (const v of array) [lo, hi] = [Math.min(lo, v), Math.max(hi, v)];
      t.intRange = [lo, hi];
    }
    if (n > 0) t.engine.runtime.write(t.buffer, array, t.offset);
    return t;
  }

  static full(shape: Shape, value: number): Tensor {
    return Tensor.from(new Float32Array(sizeOf(shape)).fill(value), shape);
  }

  static zeros(shape: Shape): Tensor {
    return Tensor.full(shape, 0);
  }

  get buffer(): GPUBuffer {
    if (this.disposed) throw new Error(`tensor [${this.shape.join(', ')}] used after dispose()`);
    return this.storage.buffer;
  }

  /** Where the tensor starts in `buffer`, in bytes (0 unless it lives in a packed storage). */
  get byteOffset(): number {
    return this.offset;
  }

  /** What a kernel binds: the whole buffer, or the tensor's own range where it is a part of a larger storage. */
  get binding(): GPUBuffer | BufferRange {
    const buffer = this.buffer;
    const size = Math.max(4, this.size * 4);
    return this.offset === 0 && size === this.storage.bytes ? buffer : { buffer, offset: this.offset, size };
  }

  /** Bytes from this tensor's start to the end of its storage (more than it holds where it is packed with others). */
  get storageRoom(): number {
    return this.storage.bytes - this.offset;
  }

  /** Whether this tensor and `other` live in the same storage. */
  sharesStorage(other: Tensor): boolean {
    return this.storage === other.storage;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** A tensor with another shape over the same storage (no copy, no gradient link: see ops.reshape). */
  view(shape: Shape): Tensor {
    if (sizeOf(shape) !== this.size) {
      throw new Error(`cannot view [${this.shape.join(', ')}] as [${shape.join(', ')}]: sizes differ`);
    }
    this.storage.refs++;
    return new Tensor([...shape], this.dtype, this.storage, this.engine, this.offset);
  }

  /** A view of `shape` starting `elements` into this tensor's storage range (no copy). */
  viewAt(elements: number, shape: Shape): Tensor {
    if (!Number.isInteger(elements) || elements < 0 || elements + sizeOf(shape) > this.size) {
      throw new Error(`cannot view [${shape.join(', ')}] at element ${elements} of [${this.shape.join(', ')}]: out of range`);
    }
    this.storage.refs++;
    return new Tensor([...shape], this.dtype, this.storage, this.engine, this.offset + elements * 4);
  }

  /**
   * A 1-D view over the storage `tensors` share, from the first one's start to the last one's end (in that order),
   * its length rounded up to a multiple of `multipleOf` elements (which the storage must hold).
   */
  static span(tensors: readonly Tensor[], multipleOf = 1): Tensor {
    const first = tensors[0];
    const last = tensors[tensors.length - 1];
    if (!first || !last) throw new Error('span() of no tensors');
    if (tensors.some((t) => t.storage !== first.storage)) throw new Error('span(): the tensors live in different storages');
    const end = (last.offset - first.offset) / 4 + last.size;
    if (end < first.size) throw new Error('span(): the tensors are not in ascending order');
    const elements = Math.ceil(end / multipleOf) * multipleOf;
    if (elements * 4 > first.storageRoom) throw new Error(`span(): ${elements} elements run past the storage`);
    first.storage.refs++;
    return new Tensor([elements], first.dtype, first.storage, first.engine, first.offset);
  }

  /**
   * Moves this tensor's contents into `place` (a view of the same shape in another storage) and makes this tensor
   * live there from now on; its old storage goes back to the pool. Work encoded earlier keeps its buffers, so
   * plans recorded before the move must be dropped (Engine.storageMoves says when).
   */
  moveTo(place: Tensor): void {
    if (place.size !== this.size || place.dtype !== this.dtype) throw new Error(`cannot move [${this.shape.join(', ')}] into [${place.shape.join(', ')}]`);
    if (this.storage.refs > 1) throw new Error(`cannot move tensor [${this.shape.join(', ')}]: other views share its storage`);
    if (this.size > 0) this.engine.runtime.copy(this.buffer, this.offset, place.buffer, place.offset, this.size * 4);
    this.engine.runtime.pool.release(this.storage.buffer);
    this.storage = place.storage;
    this.offset = place.offset;
    this.storage.refs++;
    this.engine.storageMoves++;
  }

  /** The same storage under another shape, taking this tensor's place (this one is disposed): for results that a
   * kernel produced in one shape and the caller hands on in another. */
  intoShape(shape: Shape): Tensor {
    const out = this.view(shape);
    this.dispose();
    return out;
  }

  /** Keeps the tensor alive past the enclosing `tidy` (parameters, optimizer state, results). */
  keep(): this {
    this.engine.untrack(this);
    return this;
  }

  /** Uploads `values` (as many as the tensor holds) into it, after the work encoded so far. */
  write(values: ArrayLike<number>): void {
    if (values.length !== this.size) throw new ArgumentError(`write(): ${values.length} values for tensor [${this.shape.join(', ')}] of ${this.size}`);
    const array = this.dtype === 'f32' ? Float32Array.from(values) : Int32Array.from(values);
    if (this.size > 0) this.engine.runtime.write(this.buffer, array, this.offset);
  }

  async read(): Promise<Float32Array | Int32Array> {
    if (this.engine.closed) throw new ArgumentError(`tensor [${this.shape.join(', ')}] read after shutdown(): its GPU memory is gone; init() again and recompute it`);
    const bytes = await this.engine.runtime.read(this.buffer, this.size * 4, this.offset);
    return this.dtype === 'f32' ? new Float32Array(bytes) : new Int32Array(bytes);
  }

  async data(): Promise<Float32Array> {
    if (this.dtype !== 'f32') throw new ArgumentError('data() reads float32 tensors; use read() for int32');
    return (await this.read()) as Float32Array;
  }

  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a single-element tensor, got [${this.shape.join(', ')}]`);
    return (await this.read())[0]!;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.node = undefined;
    this.engine.liveTensors--;
    this.engine.untrack(this);
    if (--this.storage.refs === 0) this.engine.runtime.pool.release(this.storage.buffer);
  }

  toString(): string {
    return `Tensor[${this.shape.join(', ')}] ${this.dtype}`;
  }
}
