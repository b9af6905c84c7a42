// A training run's resumable checkpoint (last/): the model, AdamW's moments and the loop's position, written to
// a temporary folder and swapped in; and restoring a run from it.
import { existsSync } from 'node:fs';
import { readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors } from '../io/safetensors.js';
import type { AudioTransformer } from '../models/audio-transformer.js';
import { assignTensors, CheckpointError, CONFIG_FILE, modelTensors, readCheckpointConfig, saveModel, tensorsToArrays, WEIGHTS_FILE } from '../models/checkpoint.js';
import type { AdamW } from '../optim/adamw.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/files.js';
import type { EpochLog } from './trainer.js';

/** Where the training loop stands: saved in last/state.json. */
export interface TrainState {
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  bestValidation: number;
  bestEpoch: number;
  epochLoss: number;
  epochCorrect: number;
  epochClips: number;
  epochSeconds: number;
  history: EpochLog[];
}

/** Fills a temporary folder, then swaps it in: a crash leaves the old folder or the new one, never a mix. */
export async function writeFolderAtomic(dir: string, fill: (temporary: string) => Promise<void>): Promise<void> {
  const temporary = `${dir}.tmp-${process.pid}`;
  await rm(temporary, { recursive: true, force: true });
  await fill(temporary);
  const old = `${dir}.old-${process.pid}`;
  if (existsSync(dir)) await rename(dir, old);
  await rename(temporary, dir);
  await rm(old, { recursive: true, force: true });
}

/** AdamW's moments by parameter name, as saved in optimizer.safetensors. */
function momentTensors(model: AudioTransformer, opt: AdamW): [string, Tensor][] {
  return model.namedParameters().flatMap(([name, p]): [string, Tensor][] => {
    const { m, v } = opt.moments.get(p)!;
    return [[`${name}.m`, m], [`${name}.v`, v]];
  });
}

export async function saveLast(dir: string, model: AudioTransformer, opt: AdamW, state: TrainState): Promise<void> {
  await writeFolderAtomic(dir, async (temporary) => {
    await saveModel(temporary, model);
    await writeFileAtomic(join(temporary, 'optimizer.safetensors'), encodeSafetensors(await tensorsToArrays(momentTensors(model, opt)), { step: String(opt.step) }));
    await writeFileAtomic(join(temporary, 'state.json'), JSON.stringify(state, null, 2));
  });
}

export async function restore(dir: string, model: AudioTransformer, opt: AdamW): Promise<TrainState> {
  const saved = await readCheckpointConfig(dir);
  if (saved.name !== model.config.name) {
    throw new CheckpointError(`${join(dir, CONFIG_FILE)}: the run was training ${saved.name}, not ${model.config.name}; use another --out or drop --resume`);
  }
  const weights = decodeSafetensors(await readFile(join(dir, WEIGHTS_FILE)), join(dir, WEIGHTS_FILE));
  assignTensors(modelTensors(model), weights.tensors, join(dir, WEIGHTS_FILE));
  const optimizerFile = join(dir, 'optimizer.safetensors');
  const { tensors, metadata } = decodeSafetensors(await readFile(optimizerFile), optimizerFile);
  assignTensors(momentTensors(model, opt), tensors, optimizerFile);
  opt.step = Number(metadata.step ?? 0);
  return JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as TrainState;
}

