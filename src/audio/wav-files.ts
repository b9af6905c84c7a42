// Node only: WAV files read from disk, checked for what they are before they are read.
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { decodeWav, MAX_WAV_BYTES, WavError, type DecodedWav } from './wav.js';

/** Reads and decodes a WAV file: regular files only (never a FIFO or a device), at most MAX_WAV_BYTES. */
export async function readWav(path: string): Promise<DecodedWav> {
  let bytes: Uint8Array;
  try {
    // Open without blocking and check what was opened: a FIFO named x.wav must not hang the read.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new WavError(path, 'is a folder, not a WAV file');
      if (!info.isFile()) throw new WavError(path, 'is not a regular file (a pipe, socket or device?)');
      if (info.size > MAX_WAV_BYTES) throw new WavError(path, `is ${info.size} bytes, more than the ${MAX_WAV_BYTES} a WAV file may have here: split it first`);
      bytes = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (err instanceof WavError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new WavError(path, code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a folder, not a WAV file' : (err as Error).message);
  }
  return decodeWav(bytes, path);
}

export interface WavBatch {
  clips: { path: string; wav: DecodedWav }[];
  skipped: { path: string; reason: string }[];
}

/** Decodes many files; bad ones are reported and skipped (counted), or with `strict` the first one throws. */
export async function readWavs(paths: readonly string[], options: { strict?: boolean } = {}): Promise<WavBatch> {
  const batch: WavBatch = { clips: [], skipped: [] };
  for (const path of paths) {
    try {
      batch.clips.push({ path, wav: await readWav(path) });
    } catch (err) {
      if (options.strict || !(err instanceof WavError)) throw err;
      batch.skipped.push({ path, reason: err.reason });
    }
  }
  return batch;
}
