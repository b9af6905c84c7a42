// The seam between the engine and where it runs. Everything below the CLI reaches the outside world only
// through `platform`: the GPU, the kernels' WGSL, settings and the per-machine caches. Node gets them from
// dawn.node, shaders/ on disk, the environment and ~/.cache/tokenwave (node-platform.ts); a page from
// navigator.gpu, WGSL bundled at build time, the page's address and localStorage (browser-platform.ts). Which
// one a build gets is decided by package.json's `#platform` import: the `browser` condition picks the page's.
import type { AdapterChoice } from './adapter-info.js';

export interface Platform {
  readonly name: 'node' | 'browser';
  /** The WebGPU adapter to run on; `backend` forces one where the platform has a choice (Dawn's backends). */
  chooseAdapter(backend?: string): Promise<AdapterChoice>;
  /** The text of a file under shaders/ (in Node also an absolute path, for kernels kept outside the package). */
  shaderText(file: string): string;
  /** A setting such as TOKENWAVE_TUNE: the environment in Node, the page's query string in a browser. */
  setting(name: string): string | undefined;
  /** Where the cache `name` is kept, in words (a file path, or the browser's storage). */
  cacheLocation(name: string): string;
  readCache<T>(name: string): Promise<Record<string, T>>;
  /** readCache for code that must decide at once (a kernel choosing its variant as it is dispatched). */
  readCacheSync<T>(name: string): Record<string, T>;
  /** Merges `entries` into the cache `name`; a failed write is said, naming `what` was lost, or passed over in
   * silence where `what` is not given. */
  updateCache<T>(name: string, entries: Readonly<Record<string, T>>, what?: string): Promise<void>;
  /** zlib-compresses bytes (PNG pictures): Node's zlib, or in a page stored blocks (valid, not smaller). */
  deflate(bytes: Uint8Array): Uint8Array;
  /** Waits for a GPU promise (mapAsync, onSubmittedWorkDone) the way this platform waits best. */
  waitForGpu<T>(promise: Promise<T>): Promise<T>;
}

export { platform } from '#platform';
