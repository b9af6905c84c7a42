// Checkpoints: a folder with model.safetensors (the weights, Keras layouts, float32) and config.json (model name,
// options, class names, preprocessing, normalisation). Every file is written to a temporary name and renamed.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/files.js';
import type { AudioModel } from './model.js';
import { buildModel } from './registry.js';
import { modelConfig, savedOptions, type ModelConfig, type ModelOptions } from './config.js';
import { TokenwaveError } from '../util/errors.js';

export const WEIGHTS_FILE = 'model.safetensors';
export const CONFIG_FILE = 'config.json';

export class CheckpointError extends TokenwaveError {
  override name = 'CheckpointError';
}

export interface SavedConfig {
  format: 'tokenwave-checkpoint';
  version: 1;
  model: string;
  options: ModelOptions;
}

/** Every tensor the model saves: parameters, then non-trainable state (BatchNorm running averages). */
export function modelTensors(model: AudioModel): [string, Tensor][] {
  return [...model.namedParameters(), ...model.namedState()];
}

/** Tensors that went non-finite (NaN or infinite values): never written to a checkpoint. */
export class NonFiniteError extends TokenwaveError {
  override name = 'NonFiniteError';
}

/** Reads tensors back for saving, refusing any that holds a NaN or an infinity (`what` names them in the error). */
export async function tensorsToArrays(named: readonly [string, Tensor][], what = 'weight'): Promise<NamedArray[]> {
  const out: NamedArray[] = [];
  for (const [name, t] of named) {
    const data = await t.data();
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0) throw new NonFiniteError(`${what} '${name}' holds ${data[bad]} (at element ${bad})`);
    out.push({ name, shape: [...t.shape], data });
  }
  return out;
}

export async function saveModel(dir: string, model: AudioModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  const name = model.config.name;
  const saved: SavedConfig = { format: 'tokenwave-checkpoint', version: 1, model: name, options: savedOptions(model.config) };
  const weights = encodeSafetensors(await tensorsToArrays(modelTensors(model)), { format: 'pt', model: name });
  await writeFileAtomic(join(dir, WEIGHTS_FILE), weights);
  await writeFileAtomic(join(dir, CONFIG_FILE), JSON.stringify(saved, null, 2) + '\n');
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(code === 'ENOENT' ? `${path}: not found (is this a tokenwave checkpoint folder?)` : `${path}: ${(err as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckpointError(`${path}: not valid JSON`);
  }
}

export async function readCheckpointConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, CONFIG_FILE);
  const saved = (await readJson(path)) as Partial<SavedConfig>;
  if (saved.format !== 'tokenwave-checkpoint' || typeof saved.model !== 'string') {
    throw new CheckpointError(`${path}: not a tokenwave checkpoint config (no "format": "tokenwave-checkpoint")`);
  }
  return modelConfig(saved.model, saved.options ?? {});
}

/** Writes saved arrays into a model's tensors, checking names and shapes. */
export function assignTensors(named: readonly [string, Tensor][], arrays: Map<string, NamedArray>, file: string): void {
  const expected = new Set(named.map(([n]) => n));
  const unexpected = [...arrays.keys()].filter((n) => !expected.has(n));
  for (const [name, tensor] of named) {
    const saved = arrays.get(name);
    if (!saved) throw new CheckpointError(`${file}: has no tensor '${name}': the checkpoint is from a different model`);
    if (saved.shape.join('x') !== tensor.shape.join('x')) {
      throw new CheckpointError(`${file}: '${name}' is [${saved.shape.join(', ')}] but the model needs [${tensor.shape.join(', ')}]: the checkpoint is from a different model`);
    }
    tensor.write(saved.data);
  }
  if (unexpected.length > 0) throw new CheckpointError(`${file}: tensors the model does not have (${unexpected.slice(0, 3).join(', ')}): the checkpoint is from a different model`);
}

/** Builds the model a checkpoint describes and loads its weights. */
export async function loadModel(dir: string, expectedModel?: string): Promise<AudioModel> {
  const config = await readCheckpointConfig(dir);
  if (expectedModel && expectedModel !== config.name) {
    throw new CheckpointError(`${join(dir, CONFIG_FILE)}: holds ${config.name}, not ${expectedModel}`);
  }
  const path = join(dir, WEIGHTS_FILE);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch {
    throw new CheckpointError(`${path}: not found (is this a tokenwave checkpoint folder?)`);
  }
  const { tensors } = decodeSafetensors(bytes, path);
  const model = buildModel(config);
  try {
    assignTensors(modelTensors(model), tensors, path);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
