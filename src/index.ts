// The public API of tokenwave.
export { Runtime, GpuValidationError, DeviceLostError, STORAGE_USAGE, type RuntimeOptions } from './runtime/runtime.js';
export { NoAdapterError, BACKENDS, type BackendName } from './runtime/adapter.js';
export { KernelCompileError, type KernelSpec } from './runtime/kernel.js';
