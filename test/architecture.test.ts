// Dependencies point one way: cli -> sweep -> flops/profile -> train -> models/data -> nn/optim -> ops/audio -> kernels -> tensor ->
// runtime, with util at the bottom and io and viz beside the runtime. A file may import from its own folder and from lower layers only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

const LAYER: Record<string, number> = {
  util: 0, types: 0,
  runtime: 1, io: 1, viz: 1,
  tensor: 2,
  kernels: 3,
  ops: 4, audio: 4,
  nn: 5, optim: 5,
  models: 6, data: 6,
  train: 7,
  flops: 8, profile: 8,
  sweep: 9,
  cli: 10,
};

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('architecture', () => {
  it('every src folder has a layer, and no file imports from a higher layer or a sibling folder of its layer', () => {
    const violations: string[] = [];
    for (const file of files(SRC)) {
      const rel = relative(SRC, file);
      const folder = rel.split('/')[0]!;
      if (!rel.includes('/')) continue; // src/index.ts re-exports everything
      expect(LAYER[folder], `src/${folder} has no layer in this test`).toBeDefined();
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/from '\.\.\/([a-z-]+)\//g)) {
        if (target !== folder && LAYER[target!]! >= LAYER[folder]!) violations.push(`${rel} imports ../${target}`);
      }
    }
    expect(violations).toEqual([]);
  });

  it('no code outside src/models/ names a concrete model class: it builds models from configurations (buildModel)', () => {
    const concrete = readdirSync(join(SRC, 'models'))
      .flatMap((file) => [...readFileSync(join(SRC, 'models', file), 'utf8').matchAll(/export class (\w+) extends AudioModel/g)].map((m) => m[1]!));
    expect(concrete.length).toBeGreaterThanOrEqual(2);
    const named: string[] = [];
    for (const file of files(SRC)) {
      if (relative(SRC, file).startsWith('models/')) continue;
      const text = readFileSync(file, 'utf8');
      for (const name of concrete) if (new RegExp(`\\b${name}\\b`).test(text)) named.push(`${relative(SRC, file)} names ${name}`);
    }
    expect(named).toEqual([]);
  });
});
