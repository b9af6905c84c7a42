// The public API of tokenwave in Node: everything that runs anywhere (browser.ts), plus files and folders on disk
// and Dawn's backends.
export * from './browser.js';
export { BACKENDS, type BackendName } from './runtime/adapter.js';
export { readWav, readWavs } from './audio/wav-files.js';
export { saveModel, loadModel } from './models/checkpoint-folder.js';
