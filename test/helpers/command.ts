// A command run as a user runs it, its exit code, standard output and standard error returned whether it succeeds or not.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCommand(file: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(file, [...args], options);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as CommandResult;
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
