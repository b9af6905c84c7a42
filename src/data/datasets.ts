// Loaders for the real data layouts: mini_speech_commands (both unpack depths), Speech Commands v0.02 (its list
// files and hash split), ESC-50 (meta/esc50.csv, folds, ESC-10, the 5 condensed categories), and the splits the
// paper used beside the proper ones.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { seededRandom } from '../util/random.js';
import { TokenwaveError } from '../util/errors.js';

export class DatasetError extends TokenwaveError {
  override name = 'DatasetError';
}

export type Layout = 'mini-speech-commands' | 'speech-commands' | 'esc50';
export type Subset = 'train' | 'validation' | 'test';

export interface Item {
  path: string;
  label: number;
  /** Speaker (speech) or source recording (ESC-50): what the proper splits keep on one side. */
  group: string;
  fold?: number;
  esc10?: boolean;
}

export interface Dataset {
  root: string;
  layout: Layout;
  classNames: string[];
  items: Item[];
  /** Speech Commands v0.02 only: the official list files as relative paths. */
  lists?: { validation: Set<string>; testing: Set<string> };
  /** Speech Commands v0.02: `_background_noise_` recordings (for noise mixing, not a class). */
  noiseFiles: string[];
}

const ESC50_CATEGORIES = ['animal', 'natural', 'human', 'interior', 'exterior'];

const hidden = (name: string) => name.startsWith('.') || name.startsWith('_');

async function listDir(dir: string): Promise<{ name: string; isDir: boolean }[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.map((e) => ({ name: e.name, isDir: e.isDirectory() })).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DatasetError(`${dir}: no such folder`);
    if (code === 'ENOTDIR') throw new DatasetError(`${dir}: is a file, not a data set folder`);
    throw new DatasetError(`${dir}: ${(err as Error).message}`);
  }
}

/** The speaker of a `<speaker>_nohash_<n>.wav` file (the whole stem when the name does not follow that rule). */
export function speakerOf(file: string): string {
  const base = file.split('/').pop()!;
  const cut = base.indexOf('_nohash_');
  return cut >= 0 ? base.slice(0, cut) : base.replace(/\.wav$/i, '');
}

/** Speech Commands' split rule: SHA-1 of the speaker part of the name, so a speaker stays on one side. */
export function hashSplit(file: string, validationPercent = 10, testingPercent = 10): Subset {
  const digest = createHash('sha1').update(speakerOf(file)).digest('hex');
  const MAX = 2 ** 27 - 1;
  const p = ((Number(BigInt('0x' + digest) % BigInt(MAX + 1)) * 100) / MAX);
  if (p < validationPercent) return 'validation';
  if (p < validationPercent + testingPercent) return 'test';
  return 'train';
}

/** Finds the folder that holds the class folders (Keras 3 unpacks mini_speech_commands one level deeper). */
async function speechRoot(root: string): Promise<string> {
  const deeper = join(root, 'mini_speech_commands');
  if (existsSync(deeper) && (await stat(deeper)).isDirectory()) return deeper;
  return root;
}

async function loadSpeech(root: string): Promise<Dataset> {
  const base = await speechRoot(root);
  const entries = await listDir(base);
  const classNames = entries.filter((e) => e.isDir && !hidden(e.name)).map((e) => e.name);
  const isV2 = existsSync(join(base, 'validation_list.txt')) && existsSync(join(base, 'testing_list.txt'));
  const items: Item[] = [];
  for (const [label, name] of classNames.entries()) {
    for (const file of await listDir(join(base, name))) {
      if (file.isDir || hidden(file.name) || !/\.wav$/i.test(file.name)) continue;
      items.push({ path: join(base, name, file.name), label, group: speakerOf(file.name) });
    }
  }
  const dataset: Dataset = { root: base, layout: isV2 ? 'speech-commands' : 'mini-speech-commands', classNames, items, noiseFiles: [] };
  if (isV2) {
    const read = async (f: string) => new Set((await readFile(join(base, f), 'utf8')).split(/\r?\n/).map((l) => l.trim()).filter(Boolean));
    dataset.lists = { validation: await read('validation_list.txt'), testing: await read('testing_list.txt') };
    const noise = join(base, '_background_noise_');
    if (existsSync(noise)) dataset.noiseFiles = (await listDir(noise)).filter((f) => /\.wav$/i.test(f.name)).map((f) => join(noise, f.name));
  }
  return dataset;
}

function parseCsvLine(line: string): string[] {
  return line.split(',').map((v) => v.trim());
}

async function loadEsc50(root: string, condensed: boolean): Promise<Dataset> {
  const csvPath = join(root, 'meta', 'esc50.csv');
  const lines = (await readFile(csvPath, 'utf8')).split(/\r?\n/).filter((l) => l.trim());
  const header = parseCsvLine(lines[0] ?? '');
  const column = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0) throw new DatasetError(`${csvPath}: no '${name}' column (expected filename,fold,target,category,esc10,src_file,take)`);
    return i;
  };
  const [cFile, cFold, cTarget, cCategory, cEsc10, cSrc] = ['filename', 'fold', 'target', 'category', 'esc10', 'src_file'].map(column) as number[];
  const names = new Map<number, string>();
  const items: Item[] = [];
  for (const [n, line] of lines.slice(1).entries()) {
    const v = parseCsvLine(line);
    const target = Number(v[cTarget!]);
    const fold = Number(v[cFold!]);
    if (!Number.isInteger(target) || target < 0 || target > 49 || !Number.isInteger(fold)) {
      throw new DatasetError(`${csvPath}:${n + 2}: bad target or fold in '${line}'`);
    }
    names.set(target, v[cCategory!]!);
    items.push({
      path: join(root, 'audio', v[cFile!]!),
      label: condensed ? Math.floor(target / 10) : target,
      group: v[cSrc!]!,
      fold,
      esc10: v[cEsc10!] === 'True',
    });
  }
  const classNames = condensed ? ESC50_CATEGORIES : Array.from({ length: 50 }, (_, t) => names.get(t) ?? `class ${t}`);
  return { root, layout: 'esc50', classNames, items, noiseFiles: [] };
}

export interface LoadOptions {
  /** ESC-50: the 5 major categories instead of the 50 classes. */
  condensed?: boolean;
  /** ESC-50: keep only the ESC-10 subset. */
  esc10?: boolean;
}

/** Loads whichever layout `root` holds. */
export async function loadDataset(root: string, options: LoadOptions = {}): Promise<Dataset> {
  await listDir(root); // a clear error for a missing folder or a file
  let dataset: Dataset;
  if (existsSync(join(root, 'meta', 'esc50.csv'))) {
    dataset = await loadEsc50(root, options.condensed ?? false);
    if (options.esc10) {
      dataset.items = dataset.items.filter((i) => i.esc10);
      const used = [...new Set(dataset.items.map((i) => i.label))].sort((a, b) => a - b);
      dataset.classNames = used.map((l) => dataset.classNames[l]!);
      dataset.items = dataset.items.map((i) => ({ ...i, label: used.indexOf(i.label) }));
    }
  } else {
    if (options.condensed || options.esc10) {
      throw new DatasetError(`${root}: --${options.condensed ? 'condensed' : 'esc10'} chooses among ESC-50's classes, but this folder holds a speech data set (no meta/esc50.csv); drop the option`);
    }
    dataset = await loadSpeech(root);
  }
  if (dataset.classNames.length === 0) {
    throw new DatasetError(`${root}: no class folders (expected e.g. down/ go/ left/ ... with WAV files, or ESC-50's meta/esc50.csv)`);
  }
  if (dataset.items.length === 0) throw new DatasetError(`${root}: the class folders hold no .wav files`);
  return dataset;
}

export type SplitPolicy = 'paper' | 'proper';

/** The share of the clips the paper trained on (its split is 80/10/10). */
export const PAPER_TRAIN_FRACTION = 0.8;

export interface Splits {
  train: Item[];
  validation: Item[];
  test: Item[];
  policy: string;
}

/**
 * 'paper': a random 80/20 split by file with seed 0, the 20% halved into test and validation (this leaks speakers
 * and ESC-50 source recordings across the splits). 'proper': Speech Commands' list files or hash rule (speakers
 * on one side); ESC-50's official folds (test fold `testFold`, validation the fold before it).
 */
export function split(dataset: Dataset, policy: SplitPolicy, options: { seed?: number; testFold?: number } = {}): Splits {
  const items = dataset.items;
  if (policy === 'paper') {
    const random = seededRandom(options.seed ?? 0);
    const order = items.map((item) => ({ item, key: random() })).sort((a, b) => a.key - b.key).map((x) => x.item);
    const nTrain = Math.round(order.length * PAPER_TRAIN_FRACTION);
    const rest = order.slice(nTrain);
    const nTest = Math.floor(rest.length / 2);
    return { train: order.slice(0, nTrain), test: rest.slice(0, nTest), validation: rest.slice(nTest), policy: 'paper: random 80/10/10 by file' };
  }
  if (dataset.layout === 'esc50') {
    const testFold = options.testFold ?? 5;
    const validationFold = testFold === 1 ? 5 : testFold - 1;
    return {
      train: items.filter((i) => i.fold !== testFold && i.fold !== validationFold),
      validation: items.filter((i) => i.fold === validationFold),
      test: items.filter((i) => i.fold === testFold),
      policy: `folds: test ${testFold}, validation ${validationFold}`,
    };
  }
  const out: Splits = { train: [], validation: [], test: [], policy: dataset.lists ? 'Speech Commands list files' : 'speaker hash rule' };
  for (const item of items) {
    const rel = relative(dataset.root, item.path).split('\\').join('/');
    const subset = dataset.lists
      ? dataset.lists.validation.has(rel) ? 'validation' : dataset.lists.testing.has(rel) ? 'test' : 'train'
      : hashSplit(item.path);
    out[subset].push(item);
  }
  return out;
}
