// Modules: named parameters (and non-trainable state), children that know their name, and a forward pass that
// runs under the module's path so the FLOP ledgers and the profiler can attribute every kernel to a layer. Each
// module's `forward` takes what it needs (a tensor and the context, or more).
import { withPath } from '../tensor/engine.js';
import { packTensors } from '../tensor/pack.js';
import type { Tensor } from '../tensor/tensor.js';

export interface ForwardContext {
  training: boolean;
}

export abstract class Module {
  private readonly params = new Map<string, Tensor>();
  private readonly state = new Map<string, () => Tensor>();
  private readonly children = new Map<string, Module>();
  /** The name the parent registered this module under: its component of the module path. */
  private nameInParent = '';

  protected param(name: string, tensor: Tensor): Tensor {
    this.params.set(name, tensor);
    return tensor;
  }

  /** Non-trainable state saved with the weights (BatchNorm's running averages), read through a getter. */
  protected stateTensor(name: string, get: () => Tensor): void {
    this.state.set(name, get);
  }

  protected child<M extends Module>(name: string, module: M): M {
    if (this.children.has(name)) throw new Error(`a child module named '${name}' is registered twice`);
    module.nameInParent = name;
    this.children.set(name, module);
    return module;
  }

  /** Every trainable parameter with its dotted name, e.g. 'blocks.0.attention.query.kernel'. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.params].map(([n, t]) => [prefix + n, t]);
    for (const [name, m] of this.children) out.push(...m.namedParameters(`${prefix}${name}.`));
    return out;
  }

  namedState(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [...this.state].map(([n, get]) => [prefix + n, get()]);
    for (const [name, m] of this.children) out.push(...m.namedState(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /**
   * Moves every parameter into one storage (tensor/pack.ts), so AdamW updates them in a few dispatches, and the
   * non-trainable state into another (so one kernel can fold several BatchNorms): a model calls it at the end of its
   * constructor, before anything records a plan over its parameters.
   */
  protected packParameters(): void {
    packTensors(this.parameters());
    const state = this.namedState().map(([, t]) => t);
    if (state.length > 0) packTensors(state);
  }

  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  /** Runs this module's forward pass under its name in the module path. */
  call<A extends unknown[], R>(this: Module & { forward(...args: A): R }, ...args: A): R {
    return this.within(() => this.forward(...args));
  }

  /** Runs `fn` under this module's name in the module path (where the ledger attributes its kernels). */
  within<T>(fn: () => T): T {
    return this.nameInParent ? withPath(this.nameInParent, fn) : fn();
  }

  dispose(): void {
    for (const t of this.params.values()) {
      // a gradient left by a step cut short (a batch that did not fit) goes with its parameter
      t.grad?.dispose();
      t.grad = undefined;
      t.dispose();
    }
    for (const m of this.children.values()) m.dispose();
  }
}
