// Synthetic environmental sounds in the ESC-50 layout (audio/ + meta/esc50.csv with folds, takes of one source in
// one fold, the 5 major groups). Each of the 50 classes is one of six sound mechanisms (noise textures, harmonic
// calls, chirp trains, impulse trains, engines and rotors, sirens/beeps/bells) with its own parameters; every clip
// adds a background bed, a quieter distractor from another class and silence, so the task is not trivially
// separable. Deterministic for a seed.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { peakAmplitude } from '../audio/clips.js';
import { encodeWav16 } from '../audio/wav.js';
import { writeFileAtomic } from '../util/files.js';
import { seededRandom } from '../util/random.js';

export const ESC50_CLASSES = [
  'dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep', 'crow',
  'rain', 'sea_waves', 'crackling_fire', 'crickets', 'chirping_birds', 'water_drops', 'wind', 'pouring_water', 'toilet_flush', 'thunderstorm',
  'crying_baby', 'sneezing', 'clapping', 'breathing', 'coughing', 'footsteps', 'laughing', 'brushing_teeth', 'snoring', 'drinking_sipping',
  'door_wood_knock', 'mouse_click', 'keyboard_typing', 'door_wood_creaks', 'can_opening', 'washing_machine', 'vacuum_cleaner', 'clock_alarm', 'clock_tick', 'glass_breaking',
  'helicopter', 'chainsaw', 'siren', 'car_horn', 'engine', 'train', 'church_bells', 'airplane', 'fireworks', 'hand_saw',
];
const ESC10 = new Set([0, 1, 10, 11, 12, 20, 21, 38, 40, 41]);

type Mechanism = 'texture' | 'call' | 'chirps' | 'impulses' | 'rotor' | 'tones';
const MECHANISM: Record<string, Mechanism> = Object.fromEntries(
  ([
    ['texture', ['rain', 'sea_waves', 'crackling_fire', 'wind', 'pouring_water', 'toilet_flush', 'thunderstorm', 'breathing', 'brushing_teeth', 'snoring', 'washing_machine', 'vacuum_cleaner', 'drinking_sipping']],
    ['call', ['dog', 'rooster', 'pig', 'cow', 'cat', 'hen', 'sheep', 'crow', 'crying_baby', 'laughing', 'door_wood_creaks']],
    ['chirps', ['frog', 'insects', 'crickets', 'chirping_birds', 'water_drops']],
    ['impulses', ['sneezing', 'clapping', 'coughing', 'footsteps', 'door_wood_knock', 'mouse_click', 'keyboard_typing', 'can_opening', 'clock_tick', 'glass_breaking', 'fireworks']],
    ['rotor', ['helicopter', 'chainsaw', 'engine', 'train', 'airplane', 'hand_saw']],
    ['tones', ['clock_alarm', 'siren', 'car_horn', 'church_bells']],
  ] as [Mechanism, string[]][]).flatMap(([m, names]) => names.map((n) => [n, m])),
);

export const RATE = 44100;
const SECONDS = 5;
const seedOf = (...parts: (string | number)[]) => createHash('sha1').update(parts.join('/')).digest().readUInt32LE(0);

/** A class's fixed parameters (its "sound"), drawn from its name. */
function classParams(target: number): number[] {
  const r = seededRandom(seedOf('esc-class', ESC50_CLASSES[target]!));
  return Array.from({ length: 8 }, () => r());
}

/** One source of class `target`; `vary` (0..1 values) nudges the parameters for each source and take. */
function render(target: number, vary: () => number, seconds: number): Float32Array {
  const p = classParams(target).map((v) => Math.min(1, Math.max(0, v + (vary() - 0.5) * 0.08)));
  const [a, b, c, d, e, f] = p as [number, number, number, number, number, number];
  const n = Math.round(seconds * RATE);
  const out = new Float32Array(n);
  const r = seededRandom(Math.floor(vary() * 2 ** 32));
  const mechanism = MECHANISM[ESC50_CLASSES[target]!]!;
  let lp = 0;
  let bp = 0;
  switch (mechanism) {
    case 'texture': {
      // band-limited noise (state-variable filter) with slow amplitude modulation
      const centre = 200 + 6000 * a * a;
      const q = 0.2 + 1.5 * b;
      const modRate = 0.2 + 6 * c;
      const depth = d;
      const fc = 2 * Math.sin((Math.PI * centre) / RATE);
      for (let i = 0; i < n; i++) {
        const white = r() * 2 - 1;
        const hp = white - lp - q * bp;
        bp += fc * hp;
        lp += fc * bp;
        const env = 1 - depth * (0.5 + 0.5 * Math.sin((2 * Math.PI * modRate * i) / RATE + e * 6));
        out[i] = bp * env * 0.5;
      }
      break;
    }
    case 'call': {
      // harmonic calls with a pitch glide and vibrato, repeated
      const f0 = 90 + 900 * a * a;
      const glide = (b - 0.5) * 0.8;
      const callLength = 0.15 + 0.8 * c;
      const period = callLength + 0.1 + 1.2 * d;
      const brightness = 1 + 10 * e;
      let phase = 0;
      for (let i = 0; i < n; i++) {
        const t = i / RATE;
        const u = (t % period) / callLength;
        if (u >= 1) continue;
        const freq = f0 * (1 + glide * u) * (1 + 0.03 * Math.sin(2 * Math.PI * (4 + 4 * f) * t));
        phase += (2 * Math.PI * freq) / RATE;
        let v = 0;
        for (let h = 1; h <= 8; h++) v += Math.sin(h * phase) / h ** (2 / brightness);
        out[i] = v * Math.sin(Math.PI * u) * 0.3;
      }
      break;
    }
    case 'chirps': {
      // trains of short frequency sweeps
      const base = 1500 + 5000 * a;
      const sweep = (b - 0.3) * 3000;
      const length = 0.01 + 0.08 * c;
      const rate = 2 + 25 * d;
      let phase = 0;
      for (let i = 0; i < n; i++) {
        const t = i / RATE;
        const u = (t * rate) % 1;
        const within = u / rate / length;
        if (within >= 1) continue;
        phase += (2 * Math.PI * (base + sweep * within)) / RATE;
        out[i] = Math.sin(phase) * Math.sin(Math.PI * within) * 0.4;
      }
      break;
    }
    case 'impulses': {
      // decaying resonant clicks at a (ir)regular rate
      const rate = 0.7 + 12 * a * a;
      const decay = 0.002 + 0.08 * b;
      const resonance = 300 + 5000 * c;
      const jitter = d;
      let next = 0;
      let last = -1;
      for (let i = 0; i < n; i++) {
        if (i >= next) {
          last = i;
          next = i + Math.round((RATE / rate) * (1 - jitter * 0.8 * r()));
        }
        const t = (i - last) / RATE;
        out[i] = (r() * 2 - 1) * 0.3 * Math.exp(-t / decay) + 0.4 * Math.sin(2 * Math.PI * resonance * t) * Math.exp(-t / (decay * 0.7));
      }
      break;
    }
    case 'rotor': {
      // a pulse train (blades, cylinders) with harmonics, plus broadband noise
      const rate = 8 + 90 * a;
      const harmonics = 2 + Math.floor(10 * b);
      const noise = 0.1 + 0.5 * c;
      const wobble = d * 0.1;
      let phase = 0;
      for (let i = 0; i < n; i++) {
        const t = i / RATE;
        phase += (2 * Math.PI * rate * (1 + wobble * Math.sin(2 * Math.PI * 0.3 * t))) / RATE;
        let v = 0;
        for (let h = 1; h <= harmonics; h++) v += Math.cos(h * phase) / h;
        out[i] = 0.25 * v + noise * (r() * 2 - 1) * (0.6 + 0.4 * Math.cos(phase));
      }
      break;
    }
    case 'tones': {
      // sweeping sirens, beeps or inharmonic bell partials
      const f = 400 + 1500 * a;
      const style = Math.floor(b * 3);
      const rate = 0.3 + 4 * c;
      let phase = 0;
      for (let i = 0; i < n; i++) {
        const t = i / RATE;
        if (style === 0) {
          phase += (2 * Math.PI * f * (1 + 0.4 * Math.sin(2 * Math.PI * rate * t))) / RATE;
          out[i] = 0.4 * Math.sin(phase);
        } else if (style === 1) {
          out[i] = (t * rate) % 1 < 0.5 ? 0.4 * Math.sign(Math.sin((2 * Math.PI * f * i) / RATE)) * 0.5 : 0;
        } else {
          const u = (t * rate * 0.5) % 1;
          const env = Math.exp(-u * 6);
          out[i] = env * (0.3 * Math.sin(2 * Math.PI * f * t) + 0.2 * Math.sin(2 * Math.PI * f * 2.76 * t) + 0.1 * Math.sin(2 * Math.PI * f * 5.4 * t));
        }
      }
      break;
    }
  }
  return out;
}

/** One clip: the source, silence around it, a background bed and a quieter distractor from another class. */
function clip(target: number, source: number, take: number, seed: number): Float32Array {
  const sourceRandom = seededRandom(seedOf('source', seed, target, source));
  const takeRandom = seededRandom(seedOf('take', seed, target, source, take));
  const vary = () => (takeRandom() < 0.8 ? sourceRandom() : takeRandom());
  const n = SECONDS * RATE;
  const out = new Float32Array(n);
  const length = 1 + 4 * takeRandom();
  const body = render(target, vary, length);
  const start = Math.floor(takeRandom() * (n - body.length));
  const gain = 0.4 + 0.5 * takeRandom();
  const peak = Math.max(1e-6, peakAmplitude(body));
  for (let i = 0; i < body.length; i++) out[start + i] = (body[i]! / peak) * gain;
  const other = (target + 1 + Math.floor(takeRandom() * 49)) % 50;
  const distractor = render(other, takeRandom, 1 + 2 * takeRandom());
  const dStart = Math.floor(takeRandom() * (n - distractor.length));
  const dPeak = Math.max(1e-6, peakAmplitude(distractor));
  const dGain = gain * (0.1 + 0.25 * takeRandom());
  for (let i = 0; i < distractor.length; i++) out[dStart + i]! += (distractor[i]! / dPeak) * dGain;
  const bed = 0.005 + 0.03 * takeRandom();
  for (let i = 0; i < n; i++) out[i] = Math.max(-1, Math.min(1, out[i]! + bed * (takeRandom() * 2 - 1)));
  return out;
}

/**
 * Writes <out>/audio/{fold}-{source}-{take}-{target}.wav and <out>/meta/esc50.csv: `perClass` clips per class, in
 * sources of 1-3 takes, each source in one fold, folds balanced. Existing clips are kept; files appear whole.
 */
export async function generateSounds(o: { out: string; perClass: number; seed: number; onProgress?: (done: number, total: number) => void }): Promise<{ written: number; kept: number }> {
  await mkdir(join(o.out, 'audio'), { recursive: true });
  await mkdir(join(o.out, 'meta'), { recursive: true });
  const rows = ['filename,fold,target,category,esc10,src_file,take'];
  const total = 50 * o.perClass;
  let [written, kept, done] = [0, 0, 0];
  for (let target = 0; target < 50; target++) {
    const r = seededRandom(seedOf('layout', o.seed, target));
    let made = 0;
    let source = 0;
    while (made < o.perClass) {
      const takes = Math.min(o.perClass - made, 1 + Math.floor(r() * 3));
      const fold = 1 + (source % 5);
      const sourceId = 100000 + ((seedOf('source-id', o.seed, target, source) % 900000) >>> 0);
      for (let take = 0; take < takes; take++) {
        const name = `${fold}-${sourceId}-${String.fromCharCode(65 + take)}-${target}.wav`;
        const path = join(o.out, 'audio', name);
        if (existsSync(path)) kept++;
        else {
          await writeFileAtomic(path, encodeWav16(clip(target, source, take, o.seed), RATE));
          written++;
        }
        rows.push(`${name},${fold},${target},${ESC50_CLASSES[target]},${ESC10.has(target) ? 'True' : 'False'},${sourceId},${String.fromCharCode(65 + take)}`);
        o.onProgress?.(++done, total);
      }
      made += takes;
      source++;
    }
  }
  await writeFileAtomic(join(o.out, 'meta', 'esc50.csv'), rows.join('\n') + '\n');
  return { written, kept };
}
