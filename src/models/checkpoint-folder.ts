// Node only: checkpoints as folders on disk (config.json + model.safetensors), each file written to a temporary
// name and renamed.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/files.js';
import { CheckpointError, CONFIG_FILE, checkpointFiles, modelFromCheckpoint, parseCheckpointConfig, WEIGHTS_FILE } from './checkpoint.js';
import type { ModelConfig } from './config.js';
import type { AudioModel } from './model.js';

export async function saveModel(dir: string, model: AudioModel): Promise<void> {
  await mkdir(dir, { recursive: true });
  const files = await checkpointFiles(model);
  await writeFileAtomic(join(dir, WEIGHTS_FILE), files.weights);
  await writeFileAtomic(join(dir, CONFIG_FILE), files.config);
}

async function readCheckpointFile(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CheckpointError(code === 'ENOENT' ? `${path}: not found (is this a tokenwave checkpoint folder?)` : `${path}: ${(err as Error).message}`);
  }
}

export async function readCheckpointConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, CONFIG_FILE);
  return parseCheckpointConfig((await readCheckpointFile(path)).toString('utf8'), path);
}

/** Builds the model a checkpoint folder describes and loads its weights. */
export async function loadModel(dir: string, expectedModel?: string): Promise<AudioModel> {
  const config = await readCheckpointConfig(dir);
  if (expectedModel && expectedModel !== config.name) {
    throw new CheckpointError(`${join(dir, CONFIG_FILE)}: holds ${config.name}, not ${expectedModel}`);
  }
  const path = join(dir, WEIGHTS_FILE);
  return modelFromCheckpoint(config, await readCheckpointFile(path), path);
}
