// Data-set loaders on fixtures in the real layouts, splits, the spectrogram cache, and the speech generator.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeWav16 } from '../src/audio/wav.js';
import { hashSplit, loadDataset, speakerOf, split } from '../src/data/datasets.js';
import { BackgroundNoise } from '../src/data/noise.js';
import { spectrograms } from '../src/data/pipeline.js';
import { generateSpeech, SPEECH_WORDS } from '../src/data/synthetic-speech.js';
import { ESC50_CLASSES, generateSounds } from '../src/data/synthetic-sounds.js';
import { PAPER_SPECTROGRAM } from '../src/audio/spectrogram.js';
import { seededRandom } from '../src/util/random.js';
import { useEngine } from './helpers/gpu.js';

useEngine();
const fixture = (name: string) => join(import.meta.dirname, 'fixtures', name);
const speechPreprocessing = { spectrogram: PAPER_SPECTROGRAM, clipSamples: 16000 };

describe('mini_speech_commands', () => {
  it('reads the Keras 3 layout one level deeper, labels from sorted folders, ignoring junk and hidden entries', async () => {
    const d = await loadDataset(fixture('mini_speech_commands_extracted'));
    expect(d.layout).toBe('mini-speech-commands');
    expect(d.classNames).toEqual(['down', 'go', 'left', 'no', 'right', 'stop', 'up', 'yes']);
    expect(d.items).toHaveLength(8 * 3 + 1); // + the corrupt stop/ffffffff clip, found but unreadable
    expect(d.items.every((i) => i.path.endsWith('.wav') && !i.path.includes('__MACOSX'))).toBe(true);
    const direct = await loadDataset(join(fixture('mini_speech_commands_extracted'), 'mini_speech_commands'));
    expect(direct.items.length).toBe(d.items.length);
  });

  it('skips and counts the corrupt WAV, pads short clips, and caches the spectrograms', async () => {
    const d = await loadDataset(fixture('mini_speech_commands_extracted'));
    const cacheDir = mkdtempSync(join(tmpdir(), 'tokenwave-cache-'));
    const first = await spectrograms(d.items, speechPreprocessing, { cacheDir });
    expect(first.skipped).toHaveLength(1);
    expect(first.skipped[0]!.path).toMatch(/stop\/ffffffff_nohash_0\.wav$/);
    expect(first.labels.length).toBe(24);
    expect([first.frames, first.bins]).toEqual([124, 129]);
    // a 0.25 s clip padded to 1 s: the frames past the clip hold silence
    const lastFrame = first.values.subarray(123 * 129, 124 * 129);
    expect(Math.max(...lastFrame)).toBe(0);
    const second = await spectrograms(d.items, speechPreprocessing, { cacheDir });
    expect(second.fromCache).toBe(true);
    expect(second.values).toEqual(first.values);
    expect(second.skipped).toEqual(first.skipped);
  });

  it("the paper's split is a seeded random 80/10/10 by file; the proper one keeps every speaker on one side", async () => {
    const d = await loadDataset(fixture('mini_speech_commands_extracted'));
    const paper = split(d, 'paper');
    expect(paper.train.length + paper.validation.length + paper.test.length).toBe(d.items.length);
    expect(paper.train.length).toBe(Math.round(d.items.length * 0.8));
    expect(split(d, 'paper').train.map((i) => i.path)).toEqual(paper.train.map((i) => i.path));
    const proper = split(d, 'proper');
    const sideOf = new Map<string, string>();
    for (const subset of ['train', 'validation', 'test'] as const) {
      for (const item of proper[subset]) {
        expect(sideOf.get(item.group) ?? subset).toBe(subset);
        sideOf.set(item.group, subset);
      }
    }
  });

  it('the hash rule matches Speech Commands: speaker part of the name, SHA-1, mod 2^27', () => {
    expect(speakerOf('right/a69b9b3e_nohash_0.wav')).toBe('a69b9b3e');
    expect(hashSplit('x/a69b9b3e_nohash_0.wav')).toBe(hashSplit('y/a69b9b3e_nohash_7.wav'));
    // Across many speakers the rule gives about 10% validation and 10% test.
    const counts = { train: 0, validation: 0, test: 0 };
    for (let i = 0; i < 4000; i++) counts[hashSplit(`${i.toString(16).padStart(8, '0')}_nohash_0.wav`)]++;
    expect(counts.validation / 4000).toBeGreaterThan(0.08);
    expect(counts.validation / 4000).toBeLessThan(0.12);
    expect(counts.test / 4000).toBeGreaterThan(0.08);
    expect(counts.test / 4000).toBeLessThan(0.12);
  });
});

describe('Speech Commands v0.02', () => {
  it('uses its list files for the proper split and lists the background noise without making it a class', async () => {
    const d = await loadDataset(fixture('speech_commands_v0.02'));
    expect(d.layout).toBe('speech-commands');
    expect(d.classNames).toEqual(['bird', 'cat', 'dog']);
    expect(d.noiseFiles.map((f) => f.split('/').pop())).toEqual(['white_noise.wav']);
    const s = split(d, 'proper');
    expect(s.validation.map((i) => i.path.split('/').slice(-2).join('/')).sort()).toEqual(['cat/1a9afd33_nohash_0.wav', 'dog/1a9afd33_nohash_1.wav']);
    expect(s.test.map((i) => i.path.split('/').slice(-2).join('/'))).toEqual(['bird/2c6d3924_nohash_0.wav']);
    expect(s.train).toHaveLength(9 - 3);
  });
});

describe('ESC-50', () => {
  it('reads meta/esc50.csv: 50 class names, folds, sources; ESC-10 and condensed variants', async () => {
    const d = await loadDataset(fixture('ESC-50-master'));
    expect(d.layout).toBe('esc50');
    expect(d.classNames).toHaveLength(50);
    expect(d.classNames[42]).toBe('siren');
    const folds = split(d, 'proper', { testFold: 5 });
    expect(folds.test.every((i) => i.fold === 5)).toBe(true);
    expect(folds.validation.every((i) => i.fold === 4)).toBe(true);
    expect(folds.train).toHaveLength(5 * 3 * 2);
    const esc10 = await loadDataset(fixture('ESC-50-master'), { esc10: true });
    expect(esc10.classNames).toEqual(['dog', 'rain', 'clock_tick']);
    expect(new Set(esc10.items.map((i) => i.label))).toEqual(new Set([0, 1, 2]));
    const condensed = await loadDataset(fixture('ESC-50-master'), { condensed: true });
    expect(condensed.classNames).toEqual(['animal', 'natural', 'human', 'interior', 'exterior']);
    expect(condensed.items.find((i) => i.path.endsWith('-42.wav'))!.label).toBe(4);
  });
});

describe('bad folders', () => {
  it('a missing folder, an empty one and one without WAVs each get one clear error', async () => {
    await expect(loadDataset('/nonexistent/tokenwave-data')).rejects.toThrow(/\/nonexistent\/tokenwave-data: no such folder/);
    const empty = mkdtempSync(join(tmpdir(), 'tokenwave-empty-'));
    await expect(loadDataset(empty)).rejects.toThrow(/no class folders/);
    const noWavs = mkdtempSync(join(tmpdir(), 'tokenwave-nowav-'));
    const { mkdirSync, writeFileSync } = await import('node:fs');
    mkdirSync(join(noWavs, 'yes'));
    writeFileSync(join(noWavs, 'yes', 'a.txt'), 'x');
    await expect(loadDataset(noWavs)).rejects.toThrow(/hold no \.wav files/);
  });
});

describe('synthetic sounds', () => {
  it('writes the ESC-50 layout deterministically, every source in one fold, and loads with folds', async () => {
    const [a, b] = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'tokenwave-esc-')));
    await generateSounds({ out: a!, perClass: 1, seed: 3 });
    await generateSounds({ out: b!, perClass: 1, seed: 3 });
    expect(readFileSync(join(b!, 'meta', 'esc50.csv'), 'utf8')).toBe(readFileSync(join(a!, 'meta', 'esc50.csv'), 'utf8'));
    const files = readdirSync(join(a!, 'audio')).sort();
    expect(files).toHaveLength(50);
    for (const f of files.slice(0, 5)) expect(readFileSync(join(b!, 'audio', f)).equals(readFileSync(join(a!, 'audio', f)))).toBe(true);
    const d = await loadDataset(a!);
    expect(d.layout).toBe('esc50');
    expect(d.classNames).toEqual(ESC50_CLASSES);
    const foldOf = new Map<string, number>();
    for (const item of d.items) {
      expect(foldOf.get(item.group) ?? item.fold).toBe(item.fold);
      foldOf.set(item.group, item.fold!);
    }
    expect((await loadDataset(a!, { esc10: true })).classNames).toEqual(['dog', 'rooster', 'rain', 'sea_waves', 'crackling_fire', 'crying_baby', 'sneezing', 'clock_tick', 'helicopter', 'chainsaw']);
  });
});

describe('synthetic speech', () => {
  it('is deterministic (same seed: identical files), differs with the seed, and loads as mini_speech_commands', async () => {
    const [a, b, c] = [0, 1, 2].map(() => mkdtempSync(join(tmpdir(), 'tokenwave-gen-')));
    // b is made after c: the same clips with another history in the synthesizer
    await generateSpeech({ out: a!, perClass: 2, seed: 7 });
    await generateSpeech({ out: c!, perClass: 2, seed: 8 });
    await generateSpeech({ out: b!, perClass: 2, seed: 7 });
    const files = (dir: string) => SPEECH_WORDS.flatMap((w) => readdirSync(join(dir, w)).sort().map((f) => join(w, f)));
    expect(files(b!)).toEqual(files(a!));
    for (const f of files(a!)) expect(readFileSync(join(b!, f)).equals(readFileSync(join(a!, f)))).toBe(true);
    expect(files(c!)).not.toEqual(files(a!));
    const d = await loadDataset(a!);
    expect(d.classNames).toEqual(SPEECH_WORDS);
    expect(d.items).toHaveLength(16);
    // A re-run keeps what is there and remakes what is missing, identically.
    expect(await generateSpeech({ out: a!, perClass: 2, seed: 7 })).toEqual({ written: 0, kept: 16 });
    const removed = files(b!).filter((_, i) => i % 3 === 1);
    for (const f of removed) rmSync(join(b!, f));
    expect(await generateSpeech({ out: b!, perClass: 2, seed: 7 })).toEqual({ written: removed.length, kept: 16 - removed.length });
    for (const f of removed) expect(readFileSync(join(b!, f)).equals(readFileSync(join(a!, f)))).toBe(true);
  });
});

describe('background noise', () => {
  const noiseFile = (dir: string, name: string, seconds: number) => {
    const random = seededRandom(7);
    const samples = Float32Array.from({ length: seconds * 16000 }, () => random() * 2 - 1);
    const path = join(dir, name);
    writeFileSync(path, encodeWav16(samples, 16000));
    return path;
  };

  it('mixes a seeded stretch of a recording into the chosen share of clips, within the volume, clipped to [-1, 1]', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-noise-'));
    const noise = await BackgroundNoise.load([noiseFile(dir, 'hiss.wav', 3)], 16000, 16000);
    const level = (i: number) => (i % 2 ? Math.fround(0.9) : 0);
    const clips = () => Array.from({ length: 50 }, (_, i) => new Float32Array(16000).fill(level(i)));
    const none = clips();
    noise.mix(none, { probability: 0, volume: 0.5 }, seededRandom(1));
    expect(none.every((c, i) => c.every((v) => v === level(i)))).toBe(true);
    const [a, b] = [clips(), clips()];
    noise.mix(a, { probability: 0.5, volume: 0.5 }, seededRandom(2));
    noise.mix(b, { probability: 0.5, volume: 0.5 }, seededRandom(2));
    expect(a).toEqual(b);
    const changed = a.filter((c, i) => c.some((v) => v !== level(i))).length;
    expect(changed).toBeGreaterThan(10);
    expect(changed).toBeLessThan(40);
    for (const [i, c] of a.entries()) {
      for (const v of c) {
        expect(Math.abs(v - level(i))).toBeLessThanOrEqual(0.5 + 1e-6);
        expect(Math.abs(v)).toBeLessThanOrEqual(1);
      }
    }
  });

  it('refuses a recording shorter than one clip, naming it, and a data set without recordings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tokenwave-noise-'));
    const short = noiseFile(dir, 'short.wav', 0.5);
    await expect(BackgroundNoise.load([short], 16000, 16000)).rejects.toThrow(/short\.wav: 8000 samples .* shorter than one clip/);
    await expect(BackgroundNoise.load([], 16000, 16000)).rejects.toThrow(/_background_noise_/);
  });
});
