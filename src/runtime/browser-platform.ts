// The engine in a page: the browser's WebGPU (navigator.gpu), every shader bundled into the build (no files read
// at run time), settings from the page's query string (?TOKENWAVE_TUNE=off), caches in localStorage.
import { parseCache } from '../util/cache-text.js';
import { TokenwaveError } from '../util/errors.js';
import { storedZlib } from '../util/stored-zlib.js';
import { describeAdapter, isSoftwareAdapter, NoAdapterError, type AdapterChoice } from './adapter-info.js';
import type { Platform } from './platform.js';

// The page's globals this file uses (the engine's TypeScript is checked without the DOM library).
const page = globalThis as unknown as {
  navigator?: { gpu?: GPU };
  location?: { search: string };
  localStorage?: { getItem(key: string): string | null; setItem(key: string, value: string): void };
};

// Vite inlines every shader's text at build time.
const SHADERS = import.meta.glob<string>('../../shaders/*.wgsl', { query: '?raw', import: 'default', eager: true });
const shaderByName = new Map(Object.entries(SHADERS).map(([path, text]) => [path.slice(path.lastIndexOf('/') + 1), text]));

const NO_WEBGPU =
  'this browser offers no WebGPU (navigator.gpu is missing): use Chrome or Edge 113+ (on Linux started with ' +
  '--enable-unsafe-webgpu), Safari 26+ or Firefox 141+ on Windows, and open the page from https:// or localhost';

async function chooseAdapter(): Promise<AdapterChoice> {
  const gpu = page.navigator?.gpu;
  if (!gpu) throw new NoAdapterError(NO_WEBGPU);
  const attempts: string[] = [];
  for (const featureLevel of ['core', 'compatibility'] as const) {
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance', ...(featureLevel === 'compatibility' ? { featureLevel } : {}) } as GPURequestAdapterOptions);
    if (!adapter) {
      attempts.push(`${featureLevel}: no adapter`);
      continue;
    }
    const software = isSoftwareAdapter(adapter);
    attempts.push(`${featureLevel}: ${describeAdapter(adapter)}${software ? ' [software]' : ''}`);
    return { gpu, adapter, backend: 'browser', featureLevel, software, attempts };
  }
  throw new NoAdapterError(`the browser's WebGPU gave no adapter (tried ${attempts.join('; ')}): the GPU may be blocklisted (see chrome://gpu) or WebGPU switched off`);
}

const storageKey = (name: string) => `tokenwave/${name}`;

function readStored<T>(name: string): Record<string, T> {
  let text: string | null | undefined;
  try {
    text = page.localStorage?.getItem(storageKey(name));
  } catch {
    // storage refused to this page (a sandboxed frame, blocked site data): nothing is cached
  }
  return parseCache<T>(text ?? '{}');
}

export const platform: Platform = {
  name: 'browser',
  chooseAdapter,
  shaderText(file) {
    const text = shaderByName.get(file);
    if (text === undefined) throw new TokenwaveError(`shader '${file}' is not in this build (only shaders/*.wgsl are bundled)`);
    return text;
  },
  setting: (name) => new URLSearchParams(page.location?.search ?? '').get(name) ?? undefined,
  cacheLocation: (name) => `this browser's localStorage (${storageKey(name)})`,
  readCache: async (name) => readStored(name),
  readCacheSync: readStored,
  async updateCache(name, entries, what) {
    try {
      page.localStorage?.setItem(storageKey(name), JSON.stringify({ ...readStored(name), ...entries }));
    } catch (err) {
      if (what) console.warn(`tokenwave: could not keep ${what} in localStorage (${(err as Error).message}); they will be measured again next time`);
    }
  },
  deflate: storedZlib,
  waitForGpu: (promise) => promise,
};
