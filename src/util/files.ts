// Node only: files are written to a temporary name and renamed, so an interrupted run never leaves a half-written file; a
// failed write removes its temporary and says which path failed and why, in words.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { TokenwaveError } from './errors.js';

/** A file that could not be written: the path, and what to do about it. */
export class FileWriteError extends TokenwaveError {
  override name = 'FileWriteError';
}

const REASONS: Record<string, string> = {
  ENOSPC: 'no space left on the disk: free some space or write elsewhere',
  EDQUOT: 'the disk quota is used up: free some space or write elsewhere',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EROFS: 'the file system is read-only',
  EISDIR: 'is a folder: give a file name',
  ENOENT: 'its folder does not exist',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EEXIST: 'is a file, not a folder: give a folder',
};

/** An error from a file-system call on `path`, in words that name the path. */
export function fileError(path: string, err: unknown): FileWriteError {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  return new FileWriteError(`${path}: ${REASONS[code] ?? (err as Error).message}`);
}

/**
 * Makes the folder `path` (and those above it), or says in words why it cannot be one; true when it made `path`
 * (mkdir names the first folder it made, and none where all were there).
 */
export async function makeFolder(path: string): Promise<boolean> {
  try {
    return (await mkdir(path, { recursive: true })) !== undefined;
  } catch (err) {
    throw fileError(path, err);
  }
}

export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(temporary, data);
    await rename(temporary, path);
  } catch (err) {
    await rm(temporary, { force: true, recursive: true }).catch(() => undefined);
    throw fileError(path, err);
  }
}
