// The public API that runs anywhere: in Node and in a page (bundled for the browser, where the runtime takes its
// GPU from navigator.gpu; see runtime/platform.ts). Nothing reachable from here may use Node's built-ins:
// test/architecture.test.ts walks its imports. src/index.ts adds what needs Node (files, folders, Dawn's backends).
export { Runtime, GpuValidationError, DeviceLostError, STORAGE_USAGE, type RuntimeOptions } from './runtime/runtime.js';
export { GpuMemoryError } from './runtime/pool.js';
export { NoAdapterError } from './runtime/adapter-info.js';
export { KernelCompileError, KernelDeclarationError, read, write, type KernelSpec, type Binding, type UniformType } from './runtime/kernel.js';
export { launch } from './kernels/launch.js';
export { TokenwaveError } from './util/errors.js';
export { init, shutdown, engine, tidy, noGrad, withPath, Engine, type Profile, type ProfiledRecord } from './tensor/engine.js';
export type { TimingMethod } from './runtime/timer.js';
export { Tensor, type Shape, type DType } from './tensor/tensor.js';
export { StepPlans } from './tensor/plan.js';
export { packTensors, packedZeros, packLayout, PACK_ALIGN, type PackLayout } from './tensor/pack.js';
export { Ledger, type KernelRecord, type Phase } from './tensor/ledger.js';
export { counts, exactFlops, PRIMITIVES, type OpCounts, type Primitive } from './tensor/counts.js';
export * as ops from './ops/index.js';
export { backward, zeroGrad } from './ops/autograd.js';
export { AdamW, type AdamWOptions } from './optim/adamw.js';
export { parameter, glorotUniform, zerosParameter, onesParameter } from './nn/init.js';
export { seededRandom } from './util/random.js';
export { decodeWav, encodeWav16, WavError, type DecodedWav } from './audio/wav.js';
export { resample } from './audio/resample.js';
export { prepareClip } from './audio/clips.js';
export { viridis } from './viz/colormap.js';
export { spectrogramSvg } from './audio/picture.js';
export {
  spectrogram,
  resizeSpectrograms,
  normalize,
  NormalizationStats,
  PAPER_SPECTROGRAM,
  spectrogramShape,
  longSpectrogram,
  windowCoefficients,
  melFilterbank,
  type SpectrogramConfig,
} from './audio/spectrogram.js';
export { AudioModel, type TokenMaps } from './models/model.js';
export { buildModel } from './models/registry.js';
export { explainClip, explanationSvg, type Explanation } from './models/explain.js';
export { modelConfig, protocolOf, ModelConfigError, EXAMPLE_NAMES, type ModelConfig, type ModelOptions, type Protocol } from './models/config.js';
export { CheckpointError, checkpointFiles, modelFromCheckpoint, parseCheckpointConfig } from './models/checkpoint.js';
export { ClipClassifier, predictClips, topClasses, type Prediction } from './models/predict.js';
export { trainingStep, inferenceStep, PlannedInference, PlannedTrainingStep } from './train/step.js';
export { machinePeaks, measurePeaks, type Peaks } from './profile/peaks.js';
export { groupRecords, profileTable, GROUPINGS, type Grouping, type ProfileRow } from './profile/report.js';
export { chromeTrace } from './profile/trace.js';
export { rooflineSvg } from './profile/roofline.js';
export { profileModel, medianStep, type ModelProfile } from './profile/session.js';
export { countForward, countTrainingStep, countUnder, paperTotal, CONVENTIONS, type Convention } from './flops/accounting.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
