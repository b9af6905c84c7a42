// Synthetic speech commands in the mini_speech_commands layout, spoken by eSpeak NG (compiled to WebAssembly, from
// npm) with wide speaker variation: accent, voice variant, rate, pitch, pitch range, loudness and a microphone/room
// filter per speaker; per utterance small changes in rate and pitch, an onset shift, gain, noise at a drawn SNR,
// and some clips shorter than 1 s. Deterministic for a seed: each file's randomness comes from (seed, word, index).
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { peakAmplitude } from '../audio/clips.js';
import { resample } from '../audio/resample.js';
import { encodeWav16 } from '../audio/wav.js';
import { writeFileAtomic } from '../util/files.js';
import { seededRandom } from '../util/random.js';

export const SPEECH_WORDS = ['down', 'go', 'left', 'no', 'right', 'stop', 'up', 'yes'];
const ACCENTS = ['gmw/en-US', 'gmw/en', 'gmw/en-GB-x-rp', 'gmw/en-GB-scotland', 'gmw/en-029', 'gmw/en-US-nyc', 'gmw/en-GB-x-gbclan', 'gmw/en-GB-x-gbcwmd'];
const VARIANTS = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'f1', 'f2', 'f3', 'f4', 'f5', 'klatt', 'klatt2', 'klatt3', 'croak'];
const ESPEAK_RATE = 22050;
const RATE = 16000;

export interface Speaker {
  id: string;
  voice: string;
  rate: number;
  pitch: number;
  range: number;
  gain: number;
  /** One-pole low-pass coefficient (0: none) and a single echo (delay in samples, gain): a crude room and mic. */
  lowpass: number;
  echoDelay: number;
  echoGain: number;
}

interface EspeakWorker {
  set_voice(v: string): void;
  set_rate(r: number): void;
  set_pitch(p: number): void;
  set_range(r: number): void;
  synthesize(text: string, callback: (samples: Int16Array | undefined) => void): void;
}

/**
 * eSpeak NG keeps state between utterances (its noise and flutter generators), so a clip made by a reused
 * synthesizer would depend on the clips made before it; starting a fresh one costs ~0.15 s, more than speaking.
 * Instead the synthesizer's whole memory is saved once it has started and put back before every clip: each clip
 * begins from the same state, as from a fresh start (the build is JavaScript with all its state in that memory, and
 * the tests check that a clip comes out the same whatever was made before it).
 */
interface EspeakModule {
  HEAPU8: Uint8Array;
  eSpeakNGWorker: new () => EspeakWorker;
}

class Synthesizer {
  private constructor(
    private readonly module: EspeakModule,
    private readonly worker: EspeakWorker,
    private readonly started: Uint8Array,
  ) {}

  private static shared: Promise<Synthesizer> | undefined;

  static get(): Promise<Synthesizer> {
    Synthesizer.shared ??= Synthesizer.start();
    return Synthesizer.shared;
  }

  private static start(): Promise<Synthesizer> {
    return withFixedClock(async () => {
      const { default: initialise } = await import('@echogarden/espeak-ng-emscripten');
      const bytes = await readFile(createRequire(import.meta.url).resolve('@echogarden/espeak-ng-emscripten/espeak-ng.data'));
      const data = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
      const module = (await initialise({ getPreloadedPackage: () => data })) as EspeakModule;
      const worker = new module.eSpeakNGWorker();
      return new Synthesizer(module, worker, module.HEAPU8.slice());
    });
  }

  /** The word at eSpeak's 22,050 Hz, in [-1, 1). */
  speak(word: string, voice: string, rate: number, pitch: number, range: number): Promise<Float32Array> {
    return withFixedClock(async () => {
      const heap = this.module.HEAPU8; // the memory may have grown since the start: the growth starts zeroed
      heap.set(this.started);
      heap.fill(0, this.started.length);
      this.worker.set_voice(voice);
      this.worker.set_rate(rate);
      this.worker.set_pitch(pitch);
      this.worker.set_range(range);
      const chunks: number[] = [];
      this.worker.synthesize(word, (samples) => {
        if (samples) for (const v of samples) chunks.push(v / 32768);
      });
      return Float32Array.from(chunks);
    });
  }
}

const seedOf = (...parts: (string | number)[]) => createHash('sha1').update(parts.join('/')).digest().readUInt32LE(0);

function drawSpeaker(seed: number, index: number): Speaker {
  const r = seededRandom(seedOf('speaker', seed, index));
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return {
    id: seedOf('speaker-id', seed, index).toString(16).padStart(8, '0'),
    voice: `${pick(ACCENTS)}+${pick(VARIANTS)}`,
    rate: 110 + r() * 150,
    pitch: r() * 99,
    range: r() * 99,
    gain: 0.3 + r() * 0.6,
    lowpass: r() < 0.5 ? r() * 0.85 : 0,
    echoDelay: Math.floor(r() * 0.05 * RATE),
    echoGain: r() < 0.4 ? r() * 0.35 : 0,
  };
}

function noise(kind: number, n: number, r: () => number): Float32Array {
  const out = new Float32Array(n);
  let [b0, b1, b2, brown] = [0, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const white = r() * 2 - 1;
    if (kind === 0) out[i] = white;
    else if (kind === 1) {
      // pink: Paul Kellet's economy filter
      b0 = 0.99765 * b0 + white * 0.099046;
      b1 = 0.963 * b1 + white * 0.2965164;
      b2 = 0.57 * b2 + white * 1.0526913;
      out[i] = (b0 + b1 + b2 + white * 0.1848) * 0.2;
    } else {
      brown = (brown + 0.02 * white) / 1.02;
      out[i] = brown * 3.5;
    }
  }
  return out;
}

const rms = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / Math.max(1, x.length));

/**
 * eSpeak seeds its noise generator from the wall clock (time()), so a clip would change from one second to the
 * next: the synthesizer sees a fixed clock while it starts and speaks.
 */
async function withFixedClock<T>(fn: () => Promise<T>): Promise<T> {
  const realNow = Date.now;
  Date.now = () => 0;
  try {
    return await fn();
  } finally {
    Date.now = realNow;
  }
}

/** One clip of `word` by `speaker`, 16 kHz, at most 1 s. */
async function speak(word: string, speaker: Speaker, r: () => number): Promise<Float32Array> {
  const rate = Math.round(speaker.rate * (0.9 + 0.2 * r()));
  const pitch = Math.round(Math.min(99, Math.max(0, speaker.pitch + (r() - 0.5) * 10)));
  const chunks = await (await Synthesizer.get()).speak(word, speaker.voice, rate, pitch, Math.round(speaker.range));
  let voice = resample(chunks, ESPEAK_RATE, RATE);
  // trim the synthesizer's silence, then colour the voice with the speaker's mic and room
  const threshold = 0.02 * peakAmplitude(voice);
  let [start, end] = [0, voice.length];
  while (start < end && Math.abs(voice[start]!) < threshold) start++;
  while (end > start && Math.abs(voice[end - 1]!) < threshold) end--;
  voice = voice.slice(Math.max(0, start - 160), Math.min(voice.length, end + 160));
  let state = 0;
  const coloured = new Float32Array(voice.length + speaker.echoDelay);
  for (let i = 0; i < voice.length; i++) {
    state = speaker.lowpass * state + (1 - speaker.lowpass) * voice[i]!;
    coloured[i]! += state;
    coloured[i + speaker.echoDelay]! += speaker.echoGain * state;
  }
  const length = r() < 0.15 ? Math.floor(RATE * (0.55 + 0.4 * r())) : RATE; // some clips are short, as in the real set
  const clip = new Float32Array(length);
  const peak = Math.max(1e-6, peakAmplitude(coloured));
  const gain = (speaker.gain * (0.7 + 0.6 * r())) / peak;
  const room = Math.max(0, length - coloured.length);
  const onset = Math.floor(r() * room);
  for (let i = 0; i < coloured.length && onset + i < length; i++) clip[onset + i] = coloured[i]! * gain;
  if (r() < 0.8) {
    const snrDb = r() * 30;
    const bed = noise(Math.floor(r() * 3), length, r);
    const scale = (rms(clip) / Math.max(1e-9, rms(bed))) * 10 ** (-snrDb / 20);
    for (let i = 0; i < length; i++) clip[i] = Math.max(-1, Math.min(1, clip[i]! + bed[i]! * scale));
  }
  return clip;
}

export interface GenerateOptions {
  out: string;
  perClass: number;
  seed: number;
  onProgress?: (done: number, total: number, skipped: number) => void;
}

/**
 * Writes <out>/<word>/<speaker>_nohash_<n>.wav for the 8 words. Existing files are kept (a re-run finishes an
 * interrupted one); each file is written to a temporary name and renamed, so a half-written file never appears.
 */
export async function generateSpeech(o: GenerateOptions): Promise<{ written: number; kept: number }> {
  const speakers = Math.max(8, Math.ceil((o.perClass * SPEECH_WORDS.length) / 6));
  const pool = Array.from({ length: speakers }, (_, i) => drawSpeaker(o.seed, i));
  const total = o.perClass * SPEECH_WORDS.length;
  let [written, kept] = [0, 0];
  for (const word of SPEECH_WORDS) {
    await mkdir(join(o.out, word), { recursive: true });
    const takes = new Map<string, number>();
    for (let index = 0; index < o.perClass; index++) {
      const r = seededRandom(seedOf('clip', o.seed, word, index));
      const speaker = pool[Math.floor(r() * pool.length)]!;
      const take = takes.get(speaker.id) ?? 0;
      takes.set(speaker.id, take + 1);
      const path = join(o.out, word, `${speaker.id}_nohash_${take}.wav`);
      if (existsSync(path)) kept++;
      else {
        await writeFileAtomic(path, encodeWav16(await speak(word, speaker, r), RATE));
        written++;
      }
      o.onProgress?.(written + kept, total, kept);
    }
  }
  return { written, kept };
}
