// Node only: the engine in Node: Dawn's bindings for the GPU, shaders/ read from disk, settings from the environment,
// caches as JSON files in ~/.cache/tokenwave, and GPU waits that leave the CPU adapter its cores.
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { cachePath, readCache, readCacheSync, updateCacheEntries } from '../util/cache.js';
import { chooseAdapter } from './adapter.js';
import { waitGently } from './gentle-wait.js';
import type { Platform } from './platform.js';

const SHADER_DIR = fileURLToPath(new URL('../../shaders/', import.meta.url));

export const platform: Platform = {
  name: 'node',
  chooseAdapter,
  shaderText: (file) => readFileSync(isAbsolute(file) ? file : SHADER_DIR + file, 'utf8'),
  setting: (name) => process.env[name],
  cacheLocation: cachePath,
  readCache,
  readCacheSync,
  updateCache: updateCacheEntries,
  deflate: (bytes) => deflateSync(bytes),
  waitForGpu: waitGently,
};
