// The paper's TASR models written with jax-js (npm @jax-js/jax), the strongest WebGPU peer: the same layers, sizes
// and parameter count as tokenwave's (and bench/tfjs-model.ts's), on a device from the same Dawn adapter. Its
// training step (forward with dropout, cross-entropy, gradients, AdamW with decoupled decay, BatchNorm's moving
// statistics) and its inference pass are each one jit-compiled function, so jax-js fuses what it can and replays.
// jax-js counts references: every function takes ownership of the arrays passed to it, so a value used twice is
// passed as `.ref` the first time.
import { readFileSync } from 'node:fs';
import type { Array as JaxArray, OwnedFunction } from '@jax-js/jax';
import { chooseAdapter } from '../src/runtime/adapter.js';
import { gridSide, type TransformerConfig } from '../src/models/audio-transformer-config.js';
import { seededRandom } from '../src/util/random.js';

type Jax = typeof import('@jax-js/jax');
type Params = Record<string, JaxArray>;
let jax: Jax | undefined;

/** jax-js on its WebGPU device, the adapter tokenwave chose (it asks navigator.gpu for one, as in a browser). */
export async function useJaxjs(): Promise<string> {
  if (!jax) {
    const choice = await chooseAdapter();
    const g = globalThis as Record<string, unknown>;
    const navigator = { ...(g.navigator as object), userAgent: `Node.js/${process.versions.node}`, gpu: { requestAdapter: async () => choice.adapter } };
    Object.defineProperty(globalThis, 'navigator', { value: navigator, configurable: true });
    jax = await import('@jax-js/jax');
    const devices = await jax.init('webgpu');
    if (!devices.includes('webgpu')) throw new Error('jax-js found no WebGPU device on this adapter');
    jax.defaultDevice('webgpu');
  }
  const { version } = JSON.parse(readFileSync(new URL('../node_modules/@jax-js/jax/package.json', import.meta.url), 'utf8')) as { version: string };
  return `jax-js ${version} WebGPU (jit)`;
}

function jaxOf(): Jax {
  if (!jax) throw new Error('call useJaxjs() first');
  return jax;
}

/** Bilinear resize as a matrix [out, in] (half-pixel centres, no corner alignment: tf.image.resizeBilinear's). */
function resizeMatrix(out: number, inp: number): Float32Array {
  const m = new Float32Array(out * inp);
  for (let o = 0; o < out; o++) {
    const src = Math.max(0, ((o + 0.5) * inp) / out - 0.5);
    const lo = Math.floor(src);
    const hi = Math.min(lo + 1, inp - 1);
    const frac = src - lo;
    m[o * inp + lo]! += 1 - frac;
    m[o * inp + hi]! += frac;
  }
  return m;
}

export class JaxjsTasr {
  readonly params: Params = {};
  /** BatchNorm's moving means and variances: state, not parameters. */
  moving: Params = {};
  readonly tokens: number;

  constructor(readonly c: TransformerConfig) {
    if (c.family !== 'TASR' || c.mbconvBlocks !== 1 || c.tokenFuser || c.tokenLearnerVersion !== 'v1' || c.tokenLearnerAt !== 0) {
      throw new Error(`the jax-js peer implements the paper's TASR models (one MBConv block, TokenLearner v1 on the grid), not ${c.name}`);
    }
    const { numpy: np } = jaxOf();
    const r = seededRandom(c.seed);
    const p = this.params;
    const glorot = (shape: number[], fanIn: number, fanOut: number) => {
      const limit = Math.sqrt(6 / (fanIn + fanOut));
      return np.array(Float32Array.from({ length: shape.reduce((a, d) => a * d, 1) }, () => (2 * r() - 1) * limit)).reshape(shape);
    };
    const [E, M, W] = [c.mbconvExpanded, c.mbconvChannels, c.width];
    // convolution filters are [out, in, kh, kw] (jax-js's default layout, activations NCHW)
    p.expand = glorot([E, 1, 1, 1], 1, E);
    p.expand_b = np.zeros([E]);
    p.depthwise = glorot([E, 1, 3, 3], 9 * E, 9);
    p.depthwise_b = np.zeros([E]);
    p.project = glorot([M, E, 1, 1], E, M);
    p.project_b = np.zeros([M]);
    for (const [name, n] of [['expand_bn', E], ['depthwise_bn', E], ['project_bn', M]] as const) {
      p[`${name}_g`] = np.ones([n]);
      p[`${name}_b`] = np.zeros([n]);
      this.moving[`${name}_m`] = np.zeros([n]);
      this.moving[`${name}_v`] = np.ones([n]);
    }
    p.patch = glorot([W, M, c.patch, c.patch], c.patch * c.patch * M, c.patch * c.patch * W);
    p.patch_b = np.zeros([W]);
    const grid = gridSide(c) ** 2;
    this.tokens = c.tokens > 0 ? c.tokens : grid;
    if (c.tokens > 0) {
      p.tl_ln_g = np.ones([W]);
      p.tl_ln_b = np.zeros([W]);
      for (let i = 0; i < 4; i++) {
        const cin = i === 0 ? W : c.tokens;
        p[`tl_conv${i}`] = glorot([c.tokens, cin, 3, 3], 9 * cin, 9 * c.tokens);
      }
    }
    p.position = np.array(Float32Array.from({ length: this.tokens * W }, () => (r() * 2 - 1) * 0.05)).reshape([this.tokens, W]);
    const inner = c.heads * c.keyDim;
    for (let b = 0; b < c.blocks; b++) {
      const q = `b${b}_`;
      p[`${q}ln1_g`] = np.ones([W]);
      p[`${q}ln1_b`] = np.zeros([W]);
      for (const n of ['q', 'k', 'v']) {
        p[`${q}${n}`] = glorot([W, inner], W, inner);
        p[`${q}${n}_b`] = np.zeros([inner]);
      }
      p[`${q}o`] = glorot([inner, W], inner, W);
      p[`${q}o_b`] = np.zeros([W]);
      p[`${q}ln2_g`] = np.ones([W]);
      p[`${q}ln2_b`] = np.zeros([W]);
      let fin = W;
      c.mlp.forEach((n, i) => {
        p[`${q}mlp${i}`] = glorot([fin, n], fin, n);
        p[`${q}mlp${i}_b`] = np.zeros([n]);
        fin = n;
      });
    }
    p.head_ln_g = np.ones([W]);
    p.head_ln_b = np.zeros([W]);
    p.head = glorot([W, c.classes], W, c.classes);
    p.head_b = np.zeros([c.classes]);
  }

  parameterCount(): number {
    return Object.values(this.params).reduce((s, t) => s + t.size, 0);
  }

  dispose(): void {
    jaxOf().tree.dispose([this.params, this.moving]);
  }

  /**
   * Spectrograms [B, frames, bins] -> [logits [B, classes], new moving statistics (none in inference)]. Takes
   * ownership of every argument. `key` draws the dropout masks (training only).
   */
  forward(params: Params, moving: Params, spectrograms: JaxArray, resize: [JaxArray, JaxArray], key: JaxArray | undefined): [JaxArray, Params] {
    const { numpy: np, nn, lax, random } = jaxOf();
    const c = this.c;
    const training = key !== undefined;
    const P = (name: string) => params[name]!.ref;
    const channel = (v: JaxArray) => v.reshape([1, -1, 1, 1]);
    const newMoving: Params = {};
    const batchNorm = (x: JaxArray, name: string): JaxArray => {
      const [g, b] = [channel(P(`${name}_g`)), channel(P(`${name}_b`))];
      const [m, v] = [moving[`${name}_m`]!.ref, moving[`${name}_v`]!.ref];
      if (!training) return x.sub(channel(m)).mul(np.reciprocal(np.sqrt(channel(v).add(1e-3))).mul(g)).add(b);
      const n = x.size / x.shape[1]!;
      const mean = np.mean(x.ref, [0, 2, 3], { keepdims: true });
      const variance = np.var_(x.ref, [0, 2, 3], { mean: mean.ref, keepdims: true });
      newMoving[`${name}_m`] = m.mul(0.99).add(lax.stopGradient(mean.ref).reshape([-1]).mul(0.01));
      newMoving[`${name}_v`] = v.mul(0.99).add(lax.stopGradient(variance.ref).reshape([-1]).mul(0.01 * (n / (n - 1))));
      return x.sub(mean).mul(np.reciprocal(np.sqrt(variance.add(1e-3))).mul(g)).add(b);
    };
    // one key per dropout: after the positional embedding, and per block after attention and each MLP layer
    const keys = training ? [...random.split(key, 1 + c.blocks * (1 + c.mlp.length))] : [];
    const dropout = (x: JaxArray): JaxArray => {
      const k = keys.shift();
      if (!k || c.dropout === 0) {
        k?.dispose();
        return x;
      }
      const keep = random.bernoulli(k, 1 - c.dropout, x.shape);
      return np.where(keep, x.mul(1 / (1 - c.dropout)), 0);
    };
    const layerNorm = (x: JaxArray, name: string): JaxArray => {
      const mean = np.mean(x.ref, -1, { keepdims: true });
      const variance = np.var_(x.ref, -1, { mean: mean.ref, keepdims: true });
      return x.sub(mean).mul(np.reciprocal(np.sqrt(variance.add(1e-6)))).mul(P(`${name}_g`)).add(P(`${name}_b`));
    };
    const gelu = (x: JaxArray) => x.ref.mul(0.5).mul(lax.erf(x.mul(Math.SQRT1_2)).add(1));
    const dense = (x: JaxArray, name: string) => np.matmul(x, P(name)).add(P(`${name}_b`));
    const B = spectrograms.shape[0]!;
    const std = Math.max(Math.sqrt(c.normalization.variance), 1e-7);
    // bilinear resize as two products, then normalise: [B, 1, S, S]
    let x = np.matmul(np.matmul(resize[0], spectrograms), resize[1]).sub(c.normalization.mean).mul(1 / std).reshape([B, 1, c.imageSize, c.imageSize]);
    const input = x.ref;
    const same = 'SAME' as const;
    let h = nn.relu6(batchNorm(lax.conv(x, P('expand'), [1, 1], same).add(channel(P('expand_b'))), 'expand_bn'));
    h = nn.relu6(batchNorm(lax.convGeneralDilated(h, P('depthwise'), [1, 1], same, { featureGroupCount: c.mbconvExpanded }).add(channel(P('depthwise_b'))), 'depthwise_bn'));
    h = batchNorm(lax.conv(h, P('project'), [1, 1], same).add(channel(P('project_b'))), 'project_bn').add(input);
    h = lax.conv(h, P('patch'), [c.patch, c.patch], 'VALID').add(channel(P('patch_b'))); // [B, W, G, G]
    const G = gridSide(c);
    const W = c.width;
    const grid = np.transpose(h, [0, 2, 3, 1]).reshape([B, G * G, W]);
    let t: JaxArray;
    if (c.tokens > 0) {
      let maps = np.transpose(layerNorm(grid.ref, 'tl_ln').reshape([B, G, G, W]), [0, 3, 1, 2]);
      for (let i = 0; i < 4; i++) {
        const y = lax.conv(maps, P(`tl_conv${i}`), [1, 1], same);
        maps = i < 3 ? gelu(y) : nn.sigmoid(y);
      }
      t = np.matmul(maps.reshape([B, c.tokens, G * G]), grid).mul(1 / (G * G));
    } else {
      t = grid;
    }
    t = dropout(t.add(P('position')));
    const T = this.tokens;
    const [H, D] = [c.heads, c.keyDim];
    for (let b = 0; b < c.blocks; b++) {
      const q = `b${b}_`;
      const n1 = layerNorm(t.ref, `${q}ln1`);
      const heads = (name: string, from: JaxArray) => np.transpose(dense(from, `${q}${name}`).reshape([B, T, H, D]), [0, 2, 1, 3]);
      const [qh, kh, vh] = [heads('q', n1.ref), heads('k', n1.ref), heads('v', n1)];
      const probs = dropout(nn.softmax(np.matmul(qh, np.transpose(kh, [0, 1, 3, 2])).mul(1 / Math.sqrt(D)), -1));
      const attended = np.transpose(np.matmul(probs, vh), [0, 2, 1, 3]).reshape([B, T, H * D]);
      t = t.add(dense(attended, `${q}o`));
      let m = layerNorm(t.ref, `${q}ln2`);
      c.mlp.forEach((_, i) => {
        m = dropout(gelu(dense(m, `${q}mlp${i}`)));
      });
      t = t.add(m);
    }
    const logits = dense(np.mean(layerNorm(t, 'head_ln'), 1), 'head');
    jaxOf().tree.dispose([params, moving]);
    return [logits, newMoving];
  }

  /** The resize matrices for spectrograms of `frames` x `bins`: [S, frames] and [bins, S]. */
  resizeFor(frames: number, bins: number): [JaxArray, JaxArray] {
    const { numpy: np } = jaxOf();
    const S = this.c.imageSize;
    return [np.array(resizeMatrix(S, frames)).reshape([S, frames]), np.transpose(np.array(resizeMatrix(S, bins)).reshape([S, bins]))];
  }
}

type Moments = { m: Params; v: Params };

/**
 * A jit-compiled training step of `model`: forward with dropout, cross-entropy, gradients, Adam with decoupled
 * weight decay, the loss read back.
 */
export function jaxjsTrainer(model: JaxjsTasr, frames: number, bins: number, lr = 1e-4, weightDecay = 1e-4): { step: (x: JaxArray, labels: JaxArray) => Promise<number>; dispose: () => void } {
  const { numpy: np, nn, jit, valueAndGrad, random, tree } = jaxOf();
  const [b1, b2, eps] = [0.9, 0.999, 1e-7];
  const resize = model.resizeFor(frames, bins);
  const lossOf = (params: Params, moving: Params, x: JaxArray, oneHot: JaxArray, rs: [JaxArray, JaxArray], key: JaxArray): [JaxArray, Params] => {
    const [logits, newMoving] = model.forward(params, moving, x, rs, key);
    const loss = np.mean(np.sum(nn.logSoftmax(logits, -1).mul(oneHot), -1)).mul(-1);
    return [loss, newMoving];
  };
  const compiled = jit((params: Params, moments: Moments, moving: Params, x: JaxArray, oneHot: JaxArray, rs: [JaxArray, JaxArray], key: JaxArray, alpha: JaxArray, correction2: JaxArray) => {
    const [[loss, newMoving], grads] = valueAndGrad(lossOf, { hasAux: true })(tree.ref(params), moving, x, oneHot, rs, key);
    const [m, v, next]: [Params, Params, Params] = [{}, {}, {}];
    for (const name of Object.keys(params)) {
      const g = grads[name]!;
      m[name] = moments.m[name]!.mul(b1).add(g.ref.mul(1 - b1));
      v[name] = moments.v[name]!.mul(b2).add(g.ref.mul(g).mul(1 - b2));
      const update = m[name]!.ref.mul(alpha.ref).div(np.sqrt(v[name]!.ref.mul(correction2.ref)).add(eps));
      const p = params[name]!;
      next[name] = p.ref.sub(update).sub(p.mul(lr * weightDecay));
    }
    alpha.dispose();
    correction2.dispose();
    return [loss, next, { m, v }, newMoving] as [JaxArray, Params, Moments, Params];
  }) as OwnedFunction<(...args: unknown[]) => [JaxArray, Params, Moments, Params]>;
  let moments: Moments = { m: tree.map((p: JaxArray) => np.zeros(p.shape), model.params) as Params, v: tree.map((p: JaxArray) => np.zeros(p.shape), model.params) as Params };
  let t = 0;
  let key = random.key(model.c.seed);
  return {
    step: async (x, oneHot) => {
      t += 1;
      const [next, now] = [...random.split(key, 2)];
      key = next!;
      // Adam's bias corrections, as arrays so one compiled step serves every t: lr m / (1 - b1^t) / (sqrt(v / (1 - b2^t)) + eps)
      const [alpha, correction2] = [np.array(lr / (1 - b1 ** t)), np.array(1 / (1 - b2 ** t))];
      // the step takes the parameters (and moments, statistics) and hands back their successors
      const [loss, nextParams, nextMoments, nextMoving] = compiled(model.params, moments, model.moving, x.ref, oneHot.ref, [resize[0].ref, resize[1].ref], now!, alpha, correction2);
      [moments, model.moving] = [nextMoments, nextMoving];
      Object.assign(model.params, nextParams);
      return (await loss.data())[0]!;
    },
    dispose: () => {
      compiled.dispose();
      tree.dispose([moments, resize, key]);
    },
  };
}

/** A jit-compiled inference pass of `model`: logits [B, classes] of spectrograms [B, frames, bins], read back. */
export function jaxjsInference(model: JaxjsTasr, frames: number, bins: number): { logits: (x: JaxArray) => Promise<Float32Array>; dispose: () => void } {
  const { jit, tree } = jaxOf();
  const resize = model.resizeFor(frames, bins);
  const compiled = jit((params: Params, moving: Params, x: JaxArray, rs: [JaxArray, JaxArray]) => model.forward(params, moving, x, rs, undefined)[0]);
  return {
    logits: async (x) => {
      const out = compiled(tree.ref(model.params), tree.ref(model.moving), x.ref, [resize[0].ref, resize[1].ref]);
      return (await out.data()) as Float32Array;
    },
    dispose: () => {
      compiled.dispose();
      tree.dispose(resize);
    },
  };
}
