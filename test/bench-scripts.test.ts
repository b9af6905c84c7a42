// The benchmark's and the GPU check's commands as a user runs them: help, and clear refusals of bad arguments
// before anything is measured (the measuring itself is `npm run bench`, never a test).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCommand } from './helpers/command.js';

const root = join(import.meta.dirname, '..');
const command = (file: string, args: string[]) => runCommand(file, args, { cwd: root });

const bench = (...args: string[]) => command('node', ['--import', 'tsx', 'bench/run.ts', ...args]);

describe('benchmark commands', () => {
  it('npm run bench -- --help names every section and the flags', async () => {
    const { code, stdout } = await bench('--help');
    expect(code).toBe(0);
    for (const word of ['matmul', 'loads', 'spectrogram', 'models', 'tfjs', 'pytorch', 'jaxjs', 'host', 'tune', 'soak', '--runs', '--no-wasm']) expect(stdout).toContain(word);
  });

  it('refuses an unknown section and a --runs that is no number, with exit code 2', async () => {
    const unknown = await bench('modles');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('unknown section modles');
    const runs = await bench('models', '--runs', 'three');
    expect(runs.code).toBe(2);
    expect(runs.stderr).toContain('--runs needs a number');
  });

  it('the GPU check refuses a bundle that is not there, naming it and the script that makes one', async () => {
    const out = join(root, 'gpu-check-test-never-made');
    const { code, stderr } = await command('bash', ['bench/gpu-check.sh', '--bundle', 'no-such-bundle.tar.xz', out]);
    expect(code).toBe(1);
    expect(stderr).toContain('no-such-bundle.tar.xz');
    expect(stderr).toContain('bench/gpu-bundle.sh');
    expect(existsSync(out)).toBe(false);
  });

  it('the GPU check and its bundle say how they are used', async () => {
    const check = await command('bash', ['bench/gpu-check.sh', '--help']);
    expect(check.code).toBe(0);
    expect(check.stdout).toContain('--bundle FILE');
    const bundle = await command('bash', ['bench/gpu-bundle.sh', '--help']);
    expect(bundle.code).toBe(0);
    expect(bundle.stdout).toContain('bench/gpu-check.sh --bundle FILE');
  });
});
