// The paper's TASR models written with TensorFlow.js ops, the peer of tokenwave's in the model benchmark: the same
// layers, sizes and parameter count (taken from tokenwave's configuration), the same training step (forward with
// dropout, cross-entropy, backward, Adam with decoupled weight decay, the loss read back) and inference pass.
// TF.js's WASM backend has no kernels for the filter gradient of a convolution nor for either gradient of a
// depthwise convolution: the model computes those through custom gradients made of ops it does have (shifted
// slices and matrix products), on every backend alike.
import { register } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';
import { gridSide, type TransformerConfig } from '../src/models/audio-transformer-config.js';
import { seededRandom } from '../src/util/random.js';

register('./esm-hooks.mjs', import.meta.url);
await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');

type Vars = Record<string, tf.Variable>;

function glorot(shape: number[], fanIn: number, fanOut: number, random: () => number): tf.Variable {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  const values = Float32Array.from({ length: shape.reduce((p, d) => p * d, 1) }, () => (2 * random() - 1) * limit);
  return tf.variable(tf.tensor(values, shape));
}

const zeros = (n: number) => tf.variable(tf.zeros([n]));
const ones = (n: number) => tf.variable(tf.ones([n]));

/** conv2d (stride 1 'same', or stride = kernel 'valid'), with a filter gradient built from slices and matmuls. */
function conv(x: tf.Tensor4D, w: tf.Tensor4D, stride: number, padding: 'same' | 'valid'): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.conv2d(xi, wi, stride, padding),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [B, H, W, C] = xs.shape;
        const [K, , , O] = ws.shape;
        const dx = tf.conv2dTranspose(dy as tf.Tensor4D, ws, [B, H, W, C], stride, padding);
        const rows = dy.size / O;
        const dyRows = tf.reshape(dy, [rows, O]);
        let dw: tf.Tensor;
        if (stride === K && padding === 'valid') {
          const [OH, OW] = [(dy as tf.Tensor4D).shape[1], (dy as tf.Tensor4D).shape[2]];
          const cropped = tf.slice(xs, [0, 0, 0, 0], [B, OH * K, OW * K, C]);
          const patches = tf.reshape(tf.transpose(tf.reshape(cropped, [B, OH, K, OW, K, C]), [0, 1, 3, 2, 4, 5]), [rows, K * K * C]);
          dw = tf.reshape(tf.matMul(patches, dyRows, true, false), [K, K, C, O]);
        } else {
          const p = (K - 1) / 2;
          const padded = tf.pad(xs, [[0, 0], [p, p], [p, p], [0, 0]]);
          const taps: tf.Tensor[] = [];
          for (let ky = 0; ky < K; ky++) {
            for (let kx = 0; kx < K; kx++) taps.push(tf.tidy(() => tf.matMul(tf.reshape(tf.slice(padded, [0, ky, kx, 0], [B, H, W, C]), [rows, C]), dyRows, true, false)));
          }
          dw = tf.reshape(tf.stack(taps), [K, K, C, O]);
        }
        return [dx, dw];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

/** Depthwise 3x3 'same' (stride 1) with both gradients built from ops every backend has. */
function depthwise(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const op = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [xi, wi, save] = args as [tf.Tensor4D, tf.Tensor4D, tf.GradSaveFunc];
    save([xi, wi]);
    return {
      value: tf.depthwiseConv2d(xi, wi, 1, 'same'),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const [B, H, W, C] = xs.shape;
        const dx = tf.depthwiseConv2d(dy as tf.Tensor4D, tf.reverse(ws, [0, 1]), 1, 'same');
        const padded = tf.pad(xs, [[0, 0], [1, 1], [1, 1], [0, 0]]);
        const taps: tf.Tensor[] = [];
        // one tap at a time, its activation-sized intermediates freed before the next (TF.js WASM's heap is 4 GB)
        for (let ky = 0; ky < 3; ky++) for (let kx = 0; kx < 3; kx++) taps.push(tf.tidy(() => tf.sum(tf.mul(tf.slice(padded, [0, ky, kx, 0], [B, H, W, C]), dy), [0, 1, 2])));
        return [dx, tf.reshape(tf.stack(taps), [3, 3, C, 1])];
      },
    };
  });
  return op(x, w) as tf.Tensor4D;
}

const gelu = (x: tf.Tensor) => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))));

function layerNorm(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-6))), g), b);
}

export class TfjsTasr {
  readonly vars: Vars = {};
  private readonly moving: Record<string, tf.Tensor> = {};
  readonly tokens: number;

  constructor(readonly c: TransformerConfig) {
    if (c.family !== 'TASR' || c.mbconvBlocks !== 1 || c.tokenFuser || c.tokenLearnerVersion !== 'v1' || c.tokenLearnerAt !== 0) {
      throw new Error(`the TF.js peer implements the paper's TASR models (one MBConv block, TokenLearner v1 on the grid), not ${c.name}`);
    }
    const r = seededRandom(c.seed);
    const v = this.vars;
    const [E, M, W] = [c.mbconvExpanded, c.mbconvChannels, c.width];
    v.expand = glorot([1, 1, 1, E], 1, E, r);
    v.expand_b = zeros(E);
    v.depthwise = glorot([3, 3, E, 1], 9 * E, 9, r);
    v.depthwise_b = zeros(E);
    v.project = glorot([1, 1, E, M], E, M, r);
    v.project_b = zeros(M);
    for (const [name, n] of [['expand_bn', E], ['depthwise_bn', E], ['project_bn', M]] as const) {
      v[`${name}_g`] = ones(n);
      v[`${name}_b`] = zeros(n);
      this.moving[`${name}_m`] = tf.keep(tf.zeros([n]));
      this.moving[`${name}_v`] = tf.keep(tf.ones([n]));
    }
    v.patch = glorot([c.patch, c.patch, M, W], c.patch * c.patch * M, c.patch * c.patch * W, r);
    v.patch_b = zeros(W);
    const grid = gridSide(c) ** 2;
    this.tokens = c.tokens > 0 ? c.tokens : grid;
    if (c.tokens > 0) {
      v.tl_ln_g = ones(W);
      v.tl_ln_b = zeros(W);
      for (let i = 0; i < 4; i++) {
        const cin = i === 0 ? W : c.tokens;
        v[`tl_conv${i}`] = glorot([3, 3, cin, c.tokens], 9 * cin, 9 * c.tokens, r);
      }
    }
    v.position = tf.variable(tf.tensor(Float32Array.from({ length: this.tokens * W }, () => (r() * 2 - 1) * 0.05), [this.tokens, W]));
    const inner = c.heads * c.keyDim;
    for (let b = 0; b < c.blocks; b++) {
      const p = `b${b}_`;
      v[`${p}ln1_g`] = ones(W);
      v[`${p}ln1_b`] = zeros(W);
      for (const n of ['q', 'k', 'v']) {
        v[`${p}${n}`] = glorot([W, inner], W, inner, r);
        v[`${p}${n}_b`] = zeros(inner);
      }
      v[`${p}o`] = glorot([inner, W], inner, W, r);
      v[`${p}o_b`] = zeros(W);
      v[`${p}ln2_g`] = ones(W);
      v[`${p}ln2_b`] = zeros(W);
      let fin = W;
      c.mlp.forEach((n, i) => {
        v[`${p}mlp${i}`] = glorot([fin, n], fin, n, r);
        v[`${p}mlp${i}_b`] = zeros(n);
        fin = n;
      });
    }
    v.head_ln_g = ones(W);
    v.head_ln_b = zeros(W);
    v.head = glorot([W, c.classes], W, c.classes, r);
    v.head_b = zeros(c.classes);
  }

  parameterCount(): number {
    return Object.values(this.vars).reduce((s, t) => s + t.size, 0);
  }

  private batchNorm(x: tf.Tensor, name: string, training: boolean): tf.Tensor {
    const g = this.vars[`${name}_g`]!;
    const b = this.vars[`${name}_b`]!;
    if (!training) return tf.batchNorm(x, this.moving[`${name}_m`]!, this.moving[`${name}_v`]!, b, g, 1e-3);
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    const [m, v] = [`${name}_m`, `${name}_v`];
    const n = x.size / x.shape[3]!;
    const [newMean, newVar] = [tf.keep(tf.add(tf.mul(this.moving[m]!, 0.99), tf.mul(mean, 0.01))), tf.keep(tf.add(tf.mul(this.moving[v]!, 0.99), tf.mul(variance, 0.01 * (n / (n - 1)))))];
    this.moving[m]!.dispose();
    this.moving[v]!.dispose();
    [this.moving[m], this.moving[v]] = [newMean, newVar];
    return tf.batchNorm(x, mean, variance, b, g, 1e-3);
  }

  private dropout(x: tf.Tensor, training: boolean): tf.Tensor {
    return training && this.c.dropout > 0 ? tf.dropout(x, this.c.dropout) : x;
  }

  /** Spectrograms [B, frames, bins] -> logits [B, classes]. */
  forward(spectrograms: tf.Tensor3D, training: boolean): tf.Tensor2D {
    const c = this.c;
    const v = this.vars;
    const B = spectrograms.shape[0];
    const S = c.imageSize;
    const std = Math.max(Math.sqrt(c.normalization.variance), 1e-7);
    let x: tf.Tensor4D = tf.image.resizeBilinear(tf.reshape(spectrograms, [B, spectrograms.shape[1], spectrograms.shape[2], 1]) as tf.Tensor4D, [S, S], false, true);
    x = tf.div(tf.sub(x, c.normalization.mean), std) as tf.Tensor4D;
    const input = x;
    let h = tf.relu6(this.batchNorm(tf.add(conv(x, v.expand as tf.Tensor4D, 1, 'same'), v.expand_b!), 'expand_bn', training)) as tf.Tensor4D;
    h = tf.relu6(this.batchNorm(tf.add(depthwise(h, v.depthwise as tf.Tensor4D), v.depthwise_b!), 'depthwise_bn', training)) as tf.Tensor4D;
    h = tf.add(this.batchNorm(tf.add(conv(h, v.project as tf.Tensor4D, 1, 'same'), v.project_b!), 'project_bn', training), input) as tf.Tensor4D;
    h = tf.add(conv(h, v.patch as tf.Tensor4D, c.patch, 'valid'), v.patch_b!) as tf.Tensor4D;
    const G = gridSide(c);
    const W = c.width;
    let t: tf.Tensor;
    if (c.tokens > 0) {
      let maps = layerNorm(h, v.tl_ln_g!, v.tl_ln_b!) as tf.Tensor4D;
      for (let i = 0; i < 4; i++) {
        const y = conv(maps, v[`tl_conv${i}`] as tf.Tensor4D, 1, 'same');
        maps = (i < 3 ? gelu(y) : tf.sigmoid(y)) as tf.Tensor4D;
      }
      t = tf.div(tf.matMul(tf.reshape(maps, [B, G * G, c.tokens]), tf.reshape(h, [B, G * G, W]), true, false), G * G);
    } else {
      t = tf.reshape(h, [B, G * G, W]);
    }
    t = this.dropout(tf.add(t, v.position!), training);
    const T = this.tokens;
    const [H, D] = [c.heads, c.keyDim];
    const dense = (a: tf.Tensor, w: string) => tf.reshape(tf.add(tf.matMul(tf.reshape(a, [-1, a.shape[a.rank - 1]!]), v[w]!), v[`${w}_b`]!), [...a.shape.slice(0, -1), v[w]!.shape[1]!]);
    for (let b = 0; b < c.blocks; b++) {
      const p = `b${b}_`;
      const n1 = layerNorm(t, v[`${p}ln1_g`]!, v[`${p}ln1_b`]!);
      const heads = (name: string) => tf.transpose(tf.reshape(dense(n1, `${p}${name}`), [B, T, H, D]), [0, 2, 1, 3]);
      const [q, k, val] = [heads('q'), heads('k'), heads('v')];
      const probs = this.dropout(tf.softmax(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(D))), training);
      const attended = tf.reshape(tf.transpose(tf.matMul(probs, val), [0, 2, 1, 3]), [B, T, H * D]);
      t = tf.add(t, dense(attended, `${p}o`));
      let m = layerNorm(t, v[`${p}ln2_g`]!, v[`${p}ln2_b`]!);
      c.mlp.forEach((_, i) => {
        m = this.dropout(gelu(dense(m, `${p}mlp${i}`)), training);
      });
      t = tf.add(t, m);
    }
    const pooled = tf.mean(layerNorm(t, v.head_ln_g!, v.head_ln_b!), 1);
    return dense(pooled, 'head') as tf.Tensor2D;
  }
}

/** A training step: forward with dropout, cross-entropy, gradients, Adam, decoupled decay; the loss read back. */
export function tfjsTrainer(model: TfjsTasr, lr = 1e-4, weightDecay = 1e-4): (x: tf.Tensor3D, labels: tf.Tensor2D) => Promise<number> {
  const optimizer = tf.train.adam(lr, 0.9, 0.999, 1e-7);
  const vars = Object.values(model.vars);
  return async (x, labels) => {
    const loss = optimizer.minimize(() => tf.losses.softmaxCrossEntropy(labels, model.forward(x, true)) as tf.Scalar, true, vars)!;
    tf.tidy(() => {
      for (const w of vars) w.assign(tf.mul(w, 1 - weightDecay));
    });
    const value = (await loss.data())[0]!;
    loss.dispose();
    return value;
  };
}
