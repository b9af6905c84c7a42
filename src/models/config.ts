// A model configuration from a name (plus options), whatever its family: TASR/TESC (the paper's audio
// transformer) or KWT. The one place that knows every family's names, protocol and saved fields.
import { spectrogramShape } from '../audio/spectrogram.js';
import {
  TRANSFORMER_EXAMPLES, TRANSFORMER_NAME, TRANSFORMER_NAME_FIELDS, TRANSFORMER_OPTION_KEYS, TRANSFORMER_PROTOCOL, transformerConfig,
  type TransformerConfig,
} from './audio-transformer-config.js';
import { ModelConfigError, type Protocol } from './config-common.js';
import { KWT_EXAMPLES, KWT_NAME, KWT_NAME_FIELDS, KWT_OPTION_KEYS, KWT_PROTOCOL, kwtConfig, type KwtConfig } from './kwt-config.js';

export { ModelConfigError, type Protocol } from './config-common.js';
export type { TransformerConfig } from './audio-transformer-config.js';
export type { KwtConfig } from './kwt-config.js';

export type ModelConfig = TransformerConfig | KwtConfig;
export type Family = ModelConfig['family'];

type OptionsOf<C, K extends keyof C> = Partial<Omit<Pick<C, K>, 'spectrogram' | 'normalization'>> & {
  spectrogram?: Partial<C extends { spectrogram: infer S } ? S : never>;
  normalization?: Partial<ModelConfig['normalization']>;
};
/** Options beyond the name (each family takes its own; the object-valued ones may give some fields only). */
export type ModelOptions =
  | OptionsOf<TransformerConfig, (typeof TRANSFORMER_OPTION_KEYS)[number]>
  | OptionsOf<KwtConfig, (typeof KWT_OPTION_KEYS)[number]>;

interface FamilyNames {
  pattern: RegExp;
  examples: readonly string[];
  parse(name: string, options: object): ModelConfig;
  /** Fields the name stands for: not saved with a checkpoint's options. */
  nameFields: readonly string[];
}

const FAMILIES: FamilyNames[] = [
  { pattern: TRANSFORMER_NAME, examples: TRANSFORMER_EXAMPLES, parse: transformerConfig, nameFields: TRANSFORMER_NAME_FIELDS },
  { pattern: KWT_NAME, examples: KWT_EXAMPLES, parse: kwtConfig, nameFields: KWT_NAME_FIELDS },
];

export const EXAMPLE_NAMES = FAMILIES.flatMap((f) => f.examples);

/** The configuration a model name (plus options) stands for; errors name the option and say what is valid. */
export function modelConfig(name: string, options: ModelOptions = {}): ModelConfig {
  const family = FAMILIES.find((f) => f.pattern.test(name));
  if (!family) {
    throw new ModelConfigError(
      `unknown model name '${name}'. Names are TASR_{L}L_{k}T-{H}H or TASR_{L}L_NT-{H}H (speech), TESC_... (ESC-50) and ` +
        `KWT-{1,2,3} or KWT-{n}_{k}T[@{block}] (keyword transformer), e.g. ${EXAMPLE_NAMES.join(', ')}`,
    );
  }
  return family.parse(name, options);
}

/** The protocol of a configuration's family (batch size, epochs, warm-up, top-k). */
export function protocolOf(config: Pick<ModelConfig, 'family'>): Protocol {
  return config.family === 'KWT' ? KWT_PROTOCOL : TRANSFORMER_PROTOCOL[config.family];
}

/** The options that, with the name, give this configuration back (what a checkpoint saves). */
export function savedOptions(config: ModelConfig): ModelOptions {
  const nameFields = FAMILIES.find((f) => f.pattern.test(config.name))!.nameFields;
  return Object.fromEntries(Object.entries(config).filter(([key]) => key !== 'name' && !nameFields.includes(key))) as ModelOptions;
}

/** The shape of a batch of the model's input: [batch, frames, bins] spectrograms (or MFCCs). */
export function inputShape(c: ModelConfig, batch: number): [number, number, number] {
  const [frames, bins] = spectrogramShape(c.clipSamples, c.spectrogram);
  return [batch, frames, bins];
}
