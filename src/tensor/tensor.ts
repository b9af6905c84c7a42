// Tensors live in pooled GPU buffers. Views that only change the shape (reshape) share storage, counted by
// references; the buffer returns to the pool when the last tensor using it is disposed.
import { STORAGE_USAGE } from '../runtime/runtime.js';
import { ArgumentError } from '../util/errors.js';
import { engine, type Engine } from './engine.js';

export type DType = 'f32' | 'i32';
export type Shape = readonly number[];

export interface GradNode {
  op: string;
  /** The module path the forward op ran under: its gradient kernels are attributed there too. */
  path: string;
  inputs: readonly Tensor[];
  /** Gradients of the inputs given the output's gradient (null where an input needs none). */
  backward: (grad: Tensor) => (Tensor | null)[];
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
    private readonly storage: Storage,
    readonly engine: Engine,
  ) {
    this.size = sizeOf(shape);
    engine.track(this);
  }

  /** A new tensor with uninitialised contents. */
  static empty(shape: Shape, dtype: DType = 'f32'): Tensor {
    const eng = engine();
    const bytes = Math.max(4, sizeOf(shape) * 4);
    const buffer = eng.runtime.pool.acquire(bytes, STORAGE_USAGE, 'tensor');
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
    if (n > 0) t.engine.runtime.write(t.buffer, array);
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
    return new Tensor([...shape], this.dtype, this.storage, this.engine);
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

  async read(): Promise<Float32Array | Int32Array> {
    if (this.engine.closed) throw new ArgumentError(`tensor [${this.shape.join(', ')}] read after shutdown(): its GPU memory is gone; init() again and recompute it`);
    const bytes = await this.engine.runtime.read(this.buffer, this.size * 4);
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
