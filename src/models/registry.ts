// Builds the model a configuration describes, whatever its family: the one place that names the concrete classes.
import { AudioTransformer } from './audio-transformer.js';
import type { ModelConfig } from './config.js';
import { KeywordTransformer } from './kwt.js';
import type { AudioModel } from './model.js';

export function buildModel(config: ModelConfig): AudioModel {
  return config.family === 'KWT' ? new KeywordTransformer(config) : new AudioTransformer(config);
}
