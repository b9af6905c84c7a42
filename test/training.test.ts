// End-to-end checks of the engine: small models train, runs repeat bit for bit, and memory stays flat.
import { describe, expect, it } from 'vitest';
import { backward } from '../src/ops/autograd.js';
import { conv2d } from '../src/ops/conv.js';
import { dropout } from '../src/ops/dropout.js';
import { gelu, mul, relu } from '../src/ops/elementwise.js';
import { linear } from '../src/ops/matmul.js';
import { mean } from '../src/ops/reduce.js';
import { crossEntropy } from '../src/ops/softmax.js';
import { buildModel } from '../src/models/registry.js';
import { modelConfig } from '../src/models/config.js';
import { AdamW } from '../src/optim/adamw.js';
import { glorotUniform, zerosParameter } from '../src/nn/init.js';
import { noGrad, tidy } from '../src/tensor/engine.js';
import { PACK_ALIGN, packTensors } from '../src/tensor/pack.js';
import { StepPlans } from '../src/tensor/plan.js';
import { Tensor } from '../src/tensor/tensor.js';
import { inferenceStep, PlannedInference, PlannedTrainingStep, trainingStep } from '../src/train/step.js';
import { seededRandom } from '../src/util/random.js';
import { randomArray, useEngine } from './helpers/gpu.js';

const env = useEngine();

/** Three Gaussian blobs in the plane. */
function blobs(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = seededRandom(seed);
  const centres = [[-1, -1], [1, -0.5], [0, 1.2]];
  const x = new Float32Array(n * 2);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = i % 3;
    y[i] = c;
    x[2 * i] = centres[c]![0]! + 0.6 * (r() - 0.5);
    x[2 * i + 1] = centres[c]![1]! + 0.6 * (r() - 0.5);
  }
  return { x, y };
}

/** 8x8 images with a horizontal (class 0) or vertical (class 1) bar, plus noise. */
function bars(n: number, seed: number): { x: Float32Array; y: Int32Array } {
  const r = seededRandom(seed);
  const x = new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const cls = i % 2;
    const line = Math.floor(r() * 8);
    y[i] = cls;
    for (let p = 0; p < 64; p++) {
      const [row, col] = [Math.floor(p / 8), p % 8];
      x[i * 64 + p] = ((cls === 0 ? row : col) === line ? 1 : 0) + 0.3 * (r() - 0.5);
    }
  }
  return { x, y };
}

async function trainMlp(seed: number, steps: number): Promise<number[]> {
  env.engine.setSeed(seed);
  const random = seededRandom(seed);
  const params = [glorotUniform([2, 32], 2, 32, random), zerosParameter([32]), glorotUniform([32, 3], 32, 3, random), zerosParameter([3])];
  const [w1, b1, w2, b2] = params as [Tensor, Tensor, Tensor, Tensor];
  const opt = new AdamW(params, { lr: 0.02, weightDecay: 1e-4 });
  const data = blobs(96, seed);
  const x = Tensor.from(data.x, [96, 2]).keep();
  const y = Tensor.from(data.y, [96], 'i32').keep();
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const loss = tidy(() => {
      const hidden = dropout(gelu(linear(x, w1, b1)), 0.1, true);
      const l = crossEntropy(linear(hidden, w2, b2), y);
      backward(l);
      opt.update();
      return l;
    });
    losses.push(await loss.item());
    loss.dispose();
  }
  for (const t of [...params, x, y]) t.dispose();
  opt.dispose();
  return losses;
}

interface ConvNet {
  params: Tensor[];
  step: (x: Tensor, y: Tensor) => Tensor;
  opt: AdamW;
}

function convNet(seed: number): ConvNet {
  const random = seededRandom(seed);
  const params = [glorotUniform([3, 3, 1, 6], 9, 54, random), zerosParameter([6]), glorotUniform([6, 2], 6, 2, random), zerosParameter([2])];
  const [k, kb, w, b] = params as [Tensor, Tensor, Tensor, Tensor];
  const opt = new AdamW(params, { lr: 0.03 });
  return {
    params,
    opt,
    step: (x, y) =>
      tidy(() => {
        const features = mean(relu(conv2d(x, k, { padding: 'same', bias: kb })), [1, 2]);
        const loss = crossEntropy(linear(features, w, b), y);
        backward(loss);
        opt.update();
        return loss;
      }),
  };
}

describe('training', () => {
  it('a small MLP learns three blobs: the loss falls well below its start', async () => {
    const losses = await trainMlp(1, 80);
    expect(losses[0]).toBeGreaterThan(0.8);
    expect(losses.at(-1)!).toBeLessThan(0.3 * losses[0]!);
  });

  it('the same seed gives bit-identical losses (dropout included); another seed does not', async () => {
    const a = await trainMlp(5, 15);
    const b = await trainMlp(5, 15);
    const c = await trainMlp(6, 15);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('a small conv net learns horizontal vs vertical bars', async () => {
    const net = convNet(3);
    const data = bars(64, 3);
    const x = Tensor.from(data.x, [64, 8, 8, 1]).keep();
    const y = Tensor.from(data.y, [64], 'i32').keep();
    const losses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const loss = net.step(x, y);
      losses.push(await loss.item());
      loss.dispose();
    }
    expect(losses.at(-1)!).toBeLessThan(0.5 * losses[0]!);
  });

  it('tidy keeps what it returns (in arrays and objects) and frees the rest, even what a returned graph points to', () => {
    const live = env.engine.liveTensors;
    const w = Tensor.from([1, 2, 3, 4], [2, 2]).keep();
    w.requiresGrad = true;
    const { out, list } = tidy(() => {
      const hidden = gelu(linear(Tensor.from([1, -1], [1, 2]), w));
      return { out: relu(hidden), list: [hidden] };
    });
    // out's graph reaches the input and the linear output: both are the scope's and are freed; hidden is kept.
    expect(env.engine.liveTensors).toBe(live + 3);
    expect(out.isDisposed || list[0]!.isDisposed).toBe(false);
    for (const t of [out, list[0]!, w]) t.dispose();
    expect(env.engine.liveTensors).toBe(live);
  });

  it('GPU memory stays flat over 200 training steps (pool counters after step 1 never change)', async () => {
    const net = convNet(4);
    const data = bars(32, 4);
    const x = Tensor.from(data.x, [32, 8, 8, 1]).keep();
    const y = Tensor.from(data.y, [32], 'i32').keep();
    const snapshot = () => ({ ...env.engine.runtime.pool.snapshot(), live: env.engine.liveTensors });
    let first: ReturnType<typeof snapshot> | undefined;
    for (let i = 0; i < 200; i++) {
      const loss = net.step(x, y);
      await loss.item();
      loss.dispose();
      const now = snapshot();
      first ??= now;
      expect(now.bytesAllocated).toBe(first.bytesAllocated);
      expect(now.bytesInUse).toBe(first.bytesInUse);
      expect(now.live).toBe(first.live);
    }
  });

  it("and over the paper model's fused training steps (MBConv with BatchNorm, TokenLearner, attention, AdamW)", async () => {
    const model = buildModel(modelConfig('TASR_1L_4T-2H'));
    const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
    const x = Tensor.from(Float32Array.from(randomArray(4 * 124 * 129, 9, 0, 2)), [4, 124, 129]).keep();
    const y = Tensor.from([0, 3, 5, 7], [4], 'i32').keep();
    const snapshot = () => ({ ...env.engine.runtime.pool.snapshot(), live: env.engine.liveTensors });
    let first: ReturnType<typeof snapshot> | undefined;
    for (let i = 0; i < 6; i++) {
      const loss = trainingStep(model, optimizer, x, y);
      await loss.item();
      loss.dispose();
      const now = snapshot();
      if (i === 0) continue; // the first step allocates AdamW's moments
      first ??= now;
      expect(now.buffersAllocated).toBe(first.buffersAllocated);
      expect(now.bytesAllocated).toBe(first.bytesAllocated);
      expect(now.bytesInUse).toBe(first.bytesInUse);
      expect(now.live).toBe(first.live);
    }
    optimizer.dispose();
    model.dispose();
    x.dispose();
    y.dispose();
  });

  it("a paper model's every gradient lands in its place in the gradient arena: AdamW is one dispatch, and three steps reach the parameters the grouped update reaches, bit for bit", async () => {
    const run = async (arena: boolean) => {
      env.engine.setSeed(3);
      const model = buildModel(modelConfig('TASR_1L_4T-2H'));
      const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
      // without their places, the gradients are tensors of their own, updated a group at a time
      if (!arena) for (const p of model.parameters()) env.engine.gradientSlots.delete(p);
      const x = Tensor.from(Float32Array.from(randomArray(4 * 124 * 129, 9, 0, 2)), [4, 124, 129]).keep();
      const y = Tensor.from([0, 3, 5, 7], [4], 'i32').keep();
      const updates: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { result: loss, records } = await env.engine.ledger.capture(() => trainingStep(model, optimizer, x, y));
        updates.push(records.filter((r) => r.op === 'adamw').length);
        loss.dispose();
      }
      const values = await Promise.all(model.parameters().map((p) => p.data()));
      for (const t of [x, y]) t.dispose();
      optimizer.dispose();
      model.dispose();
      return { values, updates };
    };
    const [inArena, grouped] = [await run(true), await run(false)];
    expect(inArena.updates).toEqual([1, 1, 1]);
    expect(grouped.updates[0]).toBeGreaterThan(1);
    inArena.values.forEach((v, i) => expect(Array.from(v), `parameter ${i}`).toEqual(Array.from(grouped.values[i]!)));
  });

  describe('planned steps', () => {
    /** Losses, accuracies and final parameters of `steps` steps of a small paper model on changing batches, with the
     * learning rate changed every step (as the trainer's schedule does) and dropout on. */
    async function train(planned: boolean, steps: number) {
      const model = buildModel(modelConfig('TASR_1L_4T-2H'));
      const optimizer = new AdamW(model.parameters(), { lr: 1e-3, weightDecay: 1e-4 });
      const plan = planned ? new PlannedTrainingStep(model, optimizer, true) : undefined;
      const values: number[] = [];
      const pools: ReturnType<typeof env.engine.runtime.pool.snapshot>[] = [];
      for (let i = 0; i < steps; i++) {
        const x = Tensor.from(Float32Array.from(randomArray(3 * 124 * 129, 20 + i, 0, 2)), [3, 124, 129]);
        const y = Tensor.from([i % 8, (i + 3) % 8, (i + 5) % 8], [3], 'i32');
        env.engine.setSeed(40 + i);
        optimizer.lr = 1e-3 * (1 + i);
        const r = plan ? plan.step(x, y) : trainingStep(model, optimizer, x, y, true);
        values.push(await r.loss.item(), await r.accuracy.item());
        for (const t of [r.loss, r.accuracy, x, y]) t.dispose();
        pools.push(env.engine.runtime.pool.snapshot());
      }
      const params = await Promise.all(model.parameters().map(async (p) => Array.from(await p.data())));
      plan?.dispose();
      optimizer.dispose();
      model.dispose();
      return { values, params, pools };
    }

    it('replay the step bit for bit: the same losses, accuracies and parameters as unplanned steps', async () => {
      const eager = await train(false, 4);
      const planned = await train(true, 4);
      expect(new Set(eager.values.filter((_, i) => i % 2 === 0)).size).toBe(4); // the batches differ, so do the losses
      expect(planned.values).toEqual(eager.values);
      expect(planned.params).toEqual(eager.params);
    });

    it('allocate nothing after the step that records the plan', async () => {
      const { pools } = await train(true, 5);
      for (const p of pools.slice(2)) {
        expect(p.bytesAllocated).toBe(pools[1]!.bytesAllocated);
        expect(p.bytesInUse).toBe(pools[1]!.bytesInUse);
      }
    });

    it('check the labels of every batch, not only the recorded one', async () => {
      const model = buildModel(modelConfig('TASR_1L_4T-2H'));
      const optimizer = new AdamW(model.parameters());
      const plan = new PlannedTrainingStep(model, optimizer);
      const x = Tensor.from(Float32Array.from(randomArray(2 * 124 * 129, 3, 0, 1)), [2, 124, 129]).keep();
      for (const labels of [[0, 1], [2, 3]]) plan.step(x, Tensor.from(labels, [2], 'i32')).loss.dispose();
      expect(() => plan.step(x, Tensor.from([1, 8], [2], 'i32'))).toThrow(/label 8 is outside the 8 classes/);
      plan.dispose();
      optimizer.dispose();
      model.dispose();
      x.dispose();
    });

    it('planned inference: replayed passes give the logits of unplanned ones bit for bit, on changing batches', async () => {
      const model = buildModel(modelConfig('TASR_1L_4T-2H', { seed: 5 }));
      const passes = new PlannedInference(model);
      const runtime = env.engine.runtime;
      for (let i = 0; i < 4; i++) {
        const x = Tensor.from(Float32Array.from(randomArray(3 * 124 * 129, 60 + i, 0, 2)), [3, 124, 129]);
        const first = runtime.stats.dispatches;
        const eager = await inferenceStep(model, x).data();
        const before = runtime.stats.dispatches;
        const planned = passes.logits(x);
        const dispatches = runtime.stats.dispatches - before;
        expect(Array.from(await planned.data())).toEqual(Array.from(eager));
        if (i > 0) expect(dispatches, 'a replay runs the recorded pass whole').toBe(before - first);
        expect(passes.unplanned(x)).toBeUndefined();
        planned.dispose();
        x.dispose();
      }
      passes.dispose();
      model.dispose();
    });

    it('run a step that uploads data midway unplanned, and say why', async () => {
      const plans = new StepPlans(([x]) => {
        const out = tidy(() => mean(relu(x!), [0]));
        Tensor.from([1], [1]).dispose(); // an upload inside the step
        return [out];
      });
      const x = Tensor.from([1, -2, 3, 4], [4]).keep();
      for (let i = 0; i < 2; i++) {
        const [out] = plans.run([x]);
        expect(await out!.item()).toBeCloseTo(2);
        out!.dispose();
      }
      expect(plans.unplanned([x])).toMatch(/cannot be replayed: it uploads data midway/);
      plans.dispose();
      x.dispose();
    });

    it('record afresh when a tensor they read has moved into a packed storage since (never an old buffer)', async () => {
      const weight = Tensor.from([1, 2, 3, 4], [4]).keep();
      const other = Tensor.from([5], [1]).keep();
      const plans = new StepPlans(([x]) => [tidy(() => mean(mul(x!, weight), [0]))]);
      const x = Tensor.from([1, 1, 1, 1], [4]).keep();
      const result = async () => {
        const [out] = plans.run([x]);
        const value = await out!.item();
        out!.dispose();
        return value;
      };
      expect(await result()).toBeCloseTo(2.5); // records
      expect(await result()).toBeCloseTo(2.5); // replays
      packTensors([other, weight]); // the weight moves, after 64 elements of padding
      expect(weight.byteOffset).toBe(PACK_ALIGN * 4);
      weight.write([4, 4, 4, 4]);
      // a fresh buffer of the pool could now hold anything: the old plan would read it; the new one reads the weight
      expect(await result()).toBeCloseTo(4);
      expect(await result()).toBeCloseTo(4);
      plans.dispose();
      for (const t of [weight, other, x]) t.dispose();
    });
  });
});

describe('dispatch counts (deterministic: a step is its dispatches on a GPU)', () => {
  const counted = async (run: () => Tensor) => {
    const before = env.engine.runtime.stats.dispatches;
    const out = run();
    const dispatches = env.engine.runtime.stats.dispatches - before;
    await out.data();
    out.dispose();
    return dispatches;
  };

  it('the mean cross-entropy is one dispatch forward and one backward, its seed gradient none', async () => {
    const logits = Tensor.from(randomArray(6 * 5, 3), [6, 5]).keep();
    logits.requiresGrad = true;
    const labels = Tensor.from([0, 1, 2, 3, 4, 0], [6], 'i32').keep();
    const before = env.engine.runtime.stats.dispatches;
    tidy(() => {
      const loss = crossEntropy(logits, labels);
      expect(env.engine.runtime.stats.dispatches - before).toBe(1);
      backward(loss);
    });
    expect(env.engine.runtime.stats.dispatches - before).toBe(2);
    // each row's share of the mean: its softmax less the one-hot label, over 6 rows (the gradient sums to 0 a row)
    const grad = await logits.grad!.data();
    for (let r = 0; r < 6; r++) expect(Math.abs(grad.slice(r * 5, r * 5 + 5).reduce((a, b) => a + b, 0))).toBeLessThan(1e-6);
    for (const t of [logits.grad!, logits, labels]) t.dispose();
  });

  it("a constant made midway through a pass holds its values, though the pool has a freed buffer that the pass's work still writes", async () => {
    const key = `test constant ${Math.random()}`;
    const scratch = tidy(() => {
      const x = Tensor.from([1, 2, 3], [3]);
      return mul(x, x); // encoded, not yet run; its buffer goes back to the pool below
    });
    scratch.dispose();
    const constant = env.engine.constant(key, [3], () => [7, 8, 9]);
    expect(Array.from(await constant.data())).toEqual([7, 8, 9]);
  });

  it('an inference block is 7 dispatches (5 with fused attention): each LayerNorm in the product after it; bias, GELU and residual adds in the matmul epilogues', async () => {
    const { TransformerBlock } = await import('../src/nn/blocks.js');
    // Q, K and V 64 wide: each part of their packed product starts at a binding offset
    const block = new TransformerBlock({ width: 16, heads: 2, keyDim: 32, mlp: [32, 16], dropout: 0.1 }, seededRandom(1));
    const x = Tensor.from(randomArray(2 * 8 * 16, 1), [2, 8, 16]).keep();
    const attention = env.engine.runtime.kernelVariants === 'gpu' ? 1 : 3;
    // unpacked, Q, K and V are three products after the LayerNorm: LayerNorm; query, key, value; attention (scores,
    // softmax, values; one fused dispatch with the GPU kernel variants); output + residual; LayerNorm with Dense +
    // GELU; Dense + GELU + residual
    expect(await counted(() => noGrad(() => tidy(() => block.call(x, { training: false }))))).toBe(1 + 3 + attention + 1 + 1 + 1);
    // packed as a model packs them, the LayerNorm with Q, K and V is one kernel
    packTensors(block.parameters());
    expect(await counted(() => noGrad(() => tidy(() => block.call(x, { training: false }))))).toBe(1 + attention + 1 + 1 + 1);
    block.dispose();
    x.dispose();
  });

  it('whole paper models: no more than today (the issue aims at 40 for inference, 150 and 140 for training)', async () => {
    // forward, backward and one AdamW dispatch (every gradient written into its place in the gradient arena). With
    // the GPU kernel variants attention is one dispatch forward and one backward (8 fewer a block in training, 2
    // in inference). Inference folds MBConv's three BatchNorms in one dispatch, adds MBConv's residual and the
    // positional embedding in epilogues, runs each LayerNorm in the kernel of the product after it (Q/K/V's, the
    // MLP's first layer's; the head's with its mean over tokens) and TokenLearner's three map convolutions after
    // the first in one dispatch. Training runs each block's LayerNorms in the kernels of Q/K/V and of the MLP's
    // first layer, which also write the normalised rows (and the GELU's input) for the gradients; with the CPU
    // variants the MLP's, 256 columns wide, runs apart (measured faster on llvmpipe).
    const fused = env.engine.runtime.kernelVariants === 'gpu';
    const ceilings = fused
      ? { 'TASR_4L_8T-8H': { infer: 32, train: 141 }, 'TASR_4L_NT-8H': { infer: 28, train: 120 } }
      : { 'TASR_4L_8T-8H': { infer: 40, train: 173 }, 'TASR_4L_NT-8H': { infer: 36, train: 152 } };
    for (const [name, ceiling] of Object.entries(ceilings)) {
      const model = buildModel(modelConfig(name));
      const optimizer = new AdamW(model.parameters());
      const x = Tensor.from(randomArray(2 * 124 * 129, 2, 0, 2), [2, 124, 129]).keep();
      const y = Tensor.from([1, 2], [2], 'i32').keep();
      expect(await counted(() => inferenceStep(model, x)), `${name} inference`).toBeLessThanOrEqual(ceiling.infer);
      expect(await counted(() => trainingStep(model, optimizer, x, y)), `${name} training`).toBeLessThanOrEqual(ceiling.train);
      for (const t of [x, y]) t.dispose();
      optimizer.dispose();
      model.dispose();
    }
  });
});
