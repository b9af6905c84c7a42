// Dependencies point one way: cli -> sweep -> flops/profile -> train -> models/data -> nn/optim -> ops/audio -> kernels -> tensor ->
// runtime, with util at the bottom, io beside the runtime and viz beside the tensor core (its PNGs deflate through the platform). A file may import from its own folder and from lower layers only.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

const LAYER: Record<string, number> = {
  util: 0, types: 0,
  runtime: 1, io: 1,
  tensor: 2, viz: 2,
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

// Node's built-in modules, by either spelling ('node:fs' or 'fs').
const NODE_BUILTINS = /^(node:|(fs|path|os|url|zlib|crypto|child_process|module|worker_threads|stream|util|events|http|https|net|buffer|process)(\/|$))/;
// Packages the portable API may import: they run in a page as they are.
const PORTABLE_PACKAGES = new Set(['wgsl-preprocessor/wgsl-preprocessor.js']);
const NODE_GLOBALS = /\b(process\.(env|argv|platform|pid|exit|execPath|cwd)|Buffer\.|setImmediate\(|require\(|__dirname|import\.meta\.dirname)/;

/** The module specifiers a file imports or re-exports (type-only imports included: harmless, but kept honest). */
function importsOf(text: string): string[] {
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'([^']+)'/g), ...text.matchAll(/import\('([^']+)'\)/g)].map((m) => m[1]!);
}

describe('the portable API (src/browser.ts) runs in a page', () => {
  const packageJson = JSON.parse(readFileSync(join(SRC, '..', 'package.json'), 'utf8')) as { imports: Record<string, { browser: string }> };

  function reachable(): Map<string, string[]> {
    const seen = new Map<string, string[]>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      const specifiers = importsOf(readFileSync(file, 'utf8'));
      seen.set(file, specifiers);
      for (const spec of specifiers) {
        if (spec.startsWith('.')) visit(join(file, '..', spec.replace(/\.js$/, '.ts')));
        else if (spec.startsWith('#')) visit(join(SRC, '..', packageJson.imports[spec]!.browser));
      }
    };
    visit(join(SRC, 'browser.ts'));
    return seen;
  }

  it('reaches no Node built-in, no Node global and no Node-only file, following #platform to the browser build', () => {
    const problems: string[] = [];
    const files = reachable();
    for (const [file, specifiers] of files) {
      const rel = relative(SRC, file);
      const text = readFileSync(file, 'utf8');
      if (text.startsWith('// Node only')) problems.push(`${rel} is Node only`);
      for (const spec of specifiers) {
        if (NODE_BUILTINS.test(spec)) problems.push(`${rel} imports ${spec}`);
        else if (!spec.startsWith('.') && !spec.startsWith('#') && !PORTABLE_PACKAGES.has(spec)) problems.push(`${rel} imports the package ${spec}`);
      }
      const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
      const global = NODE_GLOBALS.exec(code);
      if (global) problems.push(`${rel} uses ${global[0]}`);
    }
    expect(problems).toEqual([]);
    // it does reach the engine's layers, not an empty shell
    for (const part of ['runtime/runtime.ts', 'runtime/browser-platform.ts', 'kernels/matmul.ts', 'models/registry.ts', 'audio/spectrogram.ts', 'profile/session.ts']) {
      expect([...files.keys()].map((f) => relative(SRC, f))).toContain(part);
    }
  });

  it('every file that uses Node built-ins outside the Node-only layers (cli, sweep, train, data) says "// Node only" first', () => {
    const unmarked: string[] = [];
    for (const file of files(SRC)) {
      const rel = relative(SRC, file);
      if (/^(cli|sweep|train|data)\//.test(rel) || !rel.includes('/')) continue;
      const text = readFileSync(file, 'utf8');
      if (importsOf(text).some((s) => NODE_BUILTINS.test(s)) && !text.startsWith('// Node only')) unmarked.push(rel);
    }
    expect(unmarked).toEqual([]);
  });
});
