// Node only: tokenwave's per-machine caches (measured peaks, step times, tuned kernel variants), one JSON file each in ~/.cache/tokenwave/
// (XDG_CACHE_HOME is honoured). A cache that cannot be read is empty; one that cannot be written is said once and
// measured again next time.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseCache } from './cache-text.js';
import { makeFolder, writeFileAtomic } from './files.js';

export function cachePath(name: string): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'tokenwave', name);
}

export async function readCache<T>(name: string): Promise<Record<string, T>> {
  try {
    return parseCache<T>(await readFile(cachePath(name), 'utf8'));
  } catch {
    return {};
  }
}

/** readCache for code that must decide at once (a kernel choosing its variant as it is dispatched). */
export function readCacheSync<T>(name: string): Record<string, T> {
  try {
    return parseCache<T>(readFileSync(cachePath(name), 'utf8'));
  } catch {
    return {};
  }
}

/**
 * Sets `key` in the cache `name` (read afresh, so that other processes' entries stay). A failed write is said,
 * naming `what` was lost, or passed over in silence where `what` is not given.
 */
export async function updateCache<T>(name: string, key: string, value: T, what?: string): Promise<void> {
  await updateCacheEntries(name, { [key]: value }, what);
}

/** updateCache for several keys in one write. */
export async function updateCacheEntries<T>(name: string, entries: Readonly<Record<string, T>>, what?: string): Promise<void> {
  const file = cachePath(name);
  const cache = { ...(await readCache<T>(name)), ...entries };
  try {
    await makeFolder(dirname(file));
    await writeFileAtomic(file, JSON.stringify(cache, null, 2) + '\n');
  } catch (err) {
    if (what) console.error(`tokenwave: could not cache ${what} in ${file} (${(err as Error).message}); they will be measured again next time`);
  }
}
