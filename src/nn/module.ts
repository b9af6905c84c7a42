// Modules: named parameters (and non-trainable state), children, and a forward pass that runs under the
// module's path so the FLOP ledgers can attribute every kernel to a layer.
import { withPath } from '../tensor/engine.js';
import type { Tensor } from '../tensor/tensor.js';

export interface ForwardContext {
  training: boolean;
}

export abstract class Module {
  private readonly params = new Map<string, Tensor>();
  private readonly state = new Map<string, () => Tensor>();
  private readonly children = new Map<string, Module>();

  protected param(name: string, tensor: Tensor): Tensor {
    this.params.set(name, tensor);
    return tensor;
  }

  /** Non-trainable state saved with the weights (BatchNorm's running averages), read through a getter. */
  protected stateTensor(name: string, get: () => Tensor): void {
    this.state.set(name, get);
  }

  protected child<M extends Module>(name: string, module: M): M {
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

  parameterCount(): number {
    return this.parameters().reduce((s, t) => s + t.size, 0);
  }

  abstract forward(x: Tensor, ctx: ForwardContext): Tensor;

  /** Runs forward under `name` in the module path. */
  call(name: string, x: Tensor, ctx: ForwardContext): Tensor {
    return withPath(name, () => this.forward(x, ctx));
  }

  dispose(): void {
    for (const t of this.params.values()) t.dispose();
    for (const m of this.children.values()) m.dispose();
  }
}
