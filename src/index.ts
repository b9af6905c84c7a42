// The public API of tokenwave.
export { Runtime, GpuValidationError, DeviceLostError, STORAGE_USAGE, type RuntimeOptions } from './runtime/runtime.js';
export { GpuMemoryError } from './runtime/pool.js';
export { NoAdapterError, BACKENDS, type BackendName } from './runtime/adapter.js';
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
export { decodeWav, readWav, readWavs, encodeWav16, WavError, type DecodedWav } from './audio/wav.js';
export { resample } from './audio/resample.js';
export {
  spectrogram,
  resizeSpectrograms,
  normalize,
  NormalizationStats,
  PAPER_SPECTROGRAM,
  spectrogramShape,
  windowCoefficients,
  melFilterbank,
  type SpectrogramConfig,
} from './audio/spectrogram.js';
export { AudioModel, type TokenMaps } from './models/model.js';
export { buildModel } from './models/registry.js';
export { explainClip, explanationSvg, type Explanation } from './models/explain.js';
export { modelConfig, protocolOf, ModelConfigError, EXAMPLE_NAMES, type ModelConfig, type ModelOptions, type Protocol } from './models/config.js';
export { saveModel, loadModel, CheckpointError } from './models/checkpoint.js';
export { ClipClassifier, predictClips, type Prediction } from './models/predict.js';
export { trainingStep, inferenceStep, PlannedInference, PlannedTrainingStep } from './train/step.js';
export { machinePeaks, measurePeaks, type Peaks } from './profile/peaks.js';
export { groupRecords, GROUPINGS, type Grouping, type ProfileRow } from './profile/report.js';
export { chromeTrace } from './profile/trace.js';
export { rooflineSvg } from './profile/roofline.js';
export { profileModel, type ModelProfile } from './profile/session.js';
export { countForward, countTrainingStep, countUnder, paperTotal, CONVENTIONS, type Convention } from './flops/accounting.js';
export { encodeSafetensors, decodeSafetensors } from './io/safetensors.js';
