// Reverse-mode autodiff: ops attach a node to their output; backward() walks the graph in reverse topological
// order, accumulates gradients of shared nodes, frees each gradient once consumed and drops the graph.
import { binaryForward } from '../kernels/elementwise.js';
import { reduceAxis } from '../kernels/reduce.js';
import { engine } from '../tensor/engine.js';
import { ArgumentError } from '../util/errors.js';
import { Tensor, type GradientOffer, type GradNode, type Shape } from '../tensor/tensor.js';
import type { ActivationGrad } from '../kernels/matmul.js';

/** Whether an op over `inputs` records a gradient node: gradients are on and an input needs one. */
export function recordsGradient(inputs: readonly (Tensor | undefined)[]): boolean {
  return engine().gradEnabled && inputs.some((t) => t?.requiresGrad);
}

/**
 * Attaches a gradient node to `out` when gradients are on and any input needs one. `addsPrior[k]`: the backward adds
 * input k's gradient from other branches into its own (see GradNode).
 */
export function record(out: Tensor, op: string, inputs: readonly Tensor[], backward: GradNode['backward'], addsPrior?: readonly boolean[]): Tensor {
  const eng = engine();
  if (recordsGradient(inputs)) {
    out.requiresGrad = true;
    out.node = { op, path: eng.path, inputs, backward, ...(addsPrior ? { addsPrior } : {}) };
  }
  return out;
}

/**
 * An op whose backward starts by mapping its output's gradient elementwise (a GELU's derivative after a dropout's):
 * `apply` as a dispatch of its own, or `epilogue` for the matmul that makes the gradient, which then saves it.
 */
export interface GradientMap {
  apply(grad: Tensor): Tensor;
  epilogue: ActivationGrad;
}

const gradientMaps = new WeakMap<GradNode, GradientMap>();

/**
 * record() for an op whose backward takes the gradient after `map`: applied by the kernel that produced the
 * gradient where that kernel could (a single consumer's gradient product, see backward()), else by `map.apply`.
 */
export function recordMapped(out: Tensor, op: string, inputs: readonly Tensor[], map: GradientMap, backward: GradNode['backward']): Tensor {
  record(out, op, inputs, backward);
  if (out.node) gradientMaps.set(out.node, map);
  return out;
}

/** The epilogue offered for input k's gradient, taken (the caller's kernel applies it), or undefined. */
export function takeGradientMap(offers: readonly (GradientOffer | undefined)[], k: number): ActivationGrad | undefined {
  const offer = offers[k];
  if (!offer?.epilogue) return undefined;
  offer.taken = true;
  return offer.epilogue as ActivationGrad;
}

/** Where input k's gradient is wanted, if anywhere (not yet taken: see takeGradientPlace). */
export function gradientPlace(offers: readonly (GradientOffer | undefined)[], k: number): Tensor | undefined {
  return offers[k]?.into;
}

/** The place offered for input k's gradient, taken: the caller writes the gradient there and returns this tensor
 * as input k's gradient. */
export function takeGradientPlace(offers: readonly (GradientOffer | undefined)[], k: number): Tensor | undefined {
  const offer = offers[k];
  if (!offer?.into) return undefined;
  offer.taken = true;
  return offer.into;
}

/** Refuses an op that has no gradient where one would be recorded (gradients on and an input needs one). */
export function noGradient(what: string, inputs: readonly Tensor[]): void {
  if (recordsGradient(inputs)) {
    throw new Error(`${what} has no gradient: run it under noGrad (inference), or apply the activation as its own op`);
  }
}

/**
 * Sums a gradient over the axes along which `shape` was broadcast, so it matches `shape` again; with `offers`, into
 * input k's offered place where one sum does it.
 */
export function unbroadcast(grad: Tensor, shape: Shape, offers?: readonly (GradientOffer | undefined)[], k = 0): Tensor {
  if (grad.shape.length === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  const offset = grad.shape.length - shape.length;
  const summed = grad.shape.map((_, axis) => axis).filter((axis) => grad.shape[axis] !== (axis < offset ? 1 : shape[axis - offset]));
  if (offers && summed.length === 1 && gradientPlace(offers, k)) return reduceAxis('sum', grad, summed[0]!, takeGradientPlace(offers, k));
  let g = grad;
  for (let axis = 0; axis < grad.shape.length; axis++) {
    const target = axis < offset ? 1 : shape[axis - offset]!;
    if (grad.shape[axis] !== target) {
      const reduced = reduceAxis('sum', g, axis);
      if (g !== grad) g.dispose();
      g = reduced;
    }
  }
  return g === grad ? g.view(shape) : g.intoShape(shape);
}

function topologicalOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const visited = new Set<Tensor>();
  // Iterative DFS: deep graphs (long training unrolls) must not overflow the stack.
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (visited.has(t)) continue;
    visited.add(t);
    stack.push([t, true]);
    for (const input of t.node?.inputs ?? []) if (input.requiresGrad && !visited.has(input)) stack.push([input, false]);
  }
  return order;
}

function accumulate(into: Tensor | undefined, grad: Tensor): Tensor {
  if (!into) return grad;
  const sum = binaryForward('add', into, grad);
  into.dispose();
  grad.dispose();
  return sum;
}

/**
 * Backpropagates from `root` (a scalar, or any tensor with an explicit `seed` gradient). Leaf tensors with
 * requiresGrad receive `.grad` (kept past tidy scopes, summed over calls until `zeroGrad`).
 */
export function backward(root: Tensor, seed?: Tensor): void {
  const eng = engine();
  if (root.graphConsumed) throw new ArgumentError('backward(): a backward pass already went through this graph, which is gone now; run the forward pass again');
  if (!root.requiresGrad) throw new Error('backward(): the tensor does not depend on anything that requires a gradient');
  if (!seed && root.size !== 1) throw new Error(`backward() from a non-scalar [${root.shape.join(', ')}] needs a seed gradient`);
  const order = topologicalOrder(root);
  // how many ops take each tensor: a gradient from a single consumer may arrive already mapped (recordMapped)
  const consumers = new Map<Tensor, number>();
  for (const t of order) for (const input of t.node?.inputs ?? []) consumers.set(input, (consumers.get(input) ?? 0) + 1);
  const mapped = new Set<Tensor>();
  // A parameter's gradient goes straight to its place in the gradient arena where its one consumer's kernel can
  // write it there (through reshapes, which are views); a gradient summed over consumers or calls cannot.
  const placeOf = (input: Tensor): Tensor | undefined => {
    if (consumers.get(input) !== 1) return undefined;
    if (!input.node) return input.grad ? undefined : eng.gradientSlots.get(input);
    return input.node.op === 'reshape' ? placeOf(input.node.inputs[0]!) : undefined;
  };
  const grads = new Map<Tensor, Tensor>();
  // a scalar's seed, 1, is a constant of the engine's: no fill dispatch in every step
  grads.set(root, seed ? seed.view(seed.shape) : eng.constant('gradient seed', [1], () => [1]).view(root.shape));
  const previousPhase = eng.phase;
  eng.phase = 'backward';
  try {
    for (let i = order.length - 1; i >= 0; i--) {
      const t = order[i]!;
      let g = grads.get(t);
      if (!g) continue;
      grads.delete(t);
      if (!t.node) {
        const accumulated = accumulate(t.grad, g);
        t.grad = accumulated.keep();
        continue;
      }
      const node = t.node;
      eng.atPath(node.path, () => {
        const map = gradientMaps.get(node);
        if (map && !mapped.has(t)) {
          const unmapped = g!;
          g = map.apply(unmapped);
          unmapped.dispose();
        }
        // gradients the inputs hold already, for a backward that adds them in its own kernel
        const prior = node.inputs.map((input, k) => (node.addsPrior?.[k] ? grads.get(input) : undefined));
        const offers = node.inputs.map((input): GradientOffer | undefined => {
          const inputMap = input.node && gradientMaps.get(input.node);
          if (inputMap && consumers.get(input) === 1) return { epilogue: inputMap.epilogue, taken: false };
          const place = input.requiresGrad ? placeOf(input) : undefined;
          return place ? { into: place.view(input.shape), taken: false } : undefined;
        });
        const inputGrads = node.backward(g!, prior, offers);
        offers.forEach((offer, k) => {
          if (!offer) return;
          if (offer.epilogue && offer.taken && inputGrads[k]) mapped.add(node.inputs[k]!);
          if (offer.into && !offer.taken) offer.into.dispose();
          if (offer.into && offer.taken && inputGrads[k] !== offer.into) throw new Error(`${node.op}: took the place of input ${k}'s gradient but returned another tensor`);
        });
        const handedOn = new Set<Tensor>();
        node.inputs.forEach((input, k) => {
          let gi = inputGrads[k];
          if (!gi || !input.requiresGrad) {
            if (gi && gi !== g && !handedOn.has(gi)) gi.dispose();
            return;
          }
          // Each map entry owns its tensor: a gradient passed through unchanged, or to two inputs, becomes a view.
          if (gi === g || handedOn.has(gi)) gi = gi.view(gi.shape);
          handedOn.add(gi);
          const held = prior[k];
          if (held) {
            // the backward added it: the sum replaces it
            held.dispose();
            grads.set(input, gi);
          } else grads.set(input, accumulate(grads.get(input), gi));
        });
      });
      g!.dispose();
    }
  } finally {
    eng.phase = previousPhase;
    for (const t of order) {
      if (t.node) t.graphConsumed = true;
      t.node = undefined;
    }
    for (const g of grads.values()) g.dispose();
  }
}

/** Disposes the gradients of `params`. */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = undefined;
  }
}
