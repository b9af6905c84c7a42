// Checkpoints: model.safetensors (the weights, Keras layouts, float32) and config.json (model name, options,
// class names, preprocessing, normalisation), as bytes and text on any platform. Folders on disk are
// checkpoint-folder.ts's (Node); a page gets the same two files from the user.
import { decodeSafetensors, encodeSafetensors, type NamedArray } from '../io/safetensors.js';
import type { Tensor } from '../tensor/tensor.js';
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

/** The two files of a checkpoint of `model`: config.json's text and model.safetensors' bytes. */
export async function checkpointFiles(model: AudioModel): Promise<{ config: string; weights: Uint8Array }> {
  const name = model.config.name;
  const saved: SavedConfig = { format: 'tokenwave-checkpoint', version: 1, model: name, options: savedOptions(model.config) };
  const weights = encodeSafetensors(await tensorsToArrays(modelTensors(model)), { format: 'pt', model: name });
  return { config: JSON.stringify(saved, null, 2) + '\n', weights };
}

/** The model configuration in a checkpoint's config.json text (`file` names it in errors). */
export function parseCheckpointConfig(text: string, file: string): ModelConfig {
  let saved: Partial<SavedConfig>;
  try {
    saved = JSON.parse(text) as Partial<SavedConfig>;
  } catch {
    throw new CheckpointError(`${file}: not valid JSON`);
  }
  if (typeof saved !== 'object' || saved === null || saved.format !== 'tokenwave-checkpoint' || typeof saved.model !== 'string') {
    throw new CheckpointError(`${file}: not a tokenwave checkpoint config (no "format": "tokenwave-checkpoint")`);
  }
  return modelConfig(saved.model, saved.options ?? {});
}

/** Builds the model `config` describes with the weights in model.safetensors' bytes (`weightsFile` names them in errors). */
export function modelFromCheckpoint(config: ModelConfig, weights: Uint8Array, weightsFile = WEIGHTS_FILE): AudioModel {
  const { tensors } = decodeSafetensors(weights, weightsFile);
  const model = buildModel(config);
  try {
    assignTensors(modelTensors(model), tensors, weightsFile);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
