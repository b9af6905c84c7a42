// Background-noise augmentation, as TensorFlow's speech-commands training does it: with probability p, a random
// stretch of one of the `_background_noise_` recordings (Speech Commands v0.02), scaled by a volume drawn
// uniformly from [0, maxVolume], is added to a clip, and the sum clipped to [-1, 1]. Seeded: the same seed and
// step give the same noise.
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav-files.js';
import { DatasetError } from './datasets.js';

export interface NoiseMixing {
  /** Share of clips that get noise. */
  probability: number;
  /** Largest noise scale. */
  volume: number;
}

export class BackgroundNoise {
  private constructor(readonly recordings: Float32Array[], readonly files: string[]) {}

  /** Reads the recordings at the model's sample rate (each must be at least one clip long). */
  static async load(files: readonly string[], sampleRate: number, clipSamples: number): Promise<BackgroundNoise> {
    if (files.length === 0) throw new DatasetError('no background-noise recordings: --background-noise needs a _background_noise_ folder of WAV files (Speech Commands v0.02)');
    const recordings: Float32Array[] = [];
    for (const file of files) {
      const wav = await readWav(file);
      const length = Math.floor((wav.samples.length * sampleRate) / wav.sampleRate);
      if (length < clipSamples) throw new DatasetError(`${file}: ${length} samples at ${sampleRate} Hz, shorter than one clip (${clipSamples}): remove it from _background_noise_`);
      recordings.push(prepareClip(wav, sampleRate, length));
    }
    return new BackgroundNoise(recordings, [...files]);
  }

  /** Adds noise to each clip (in place) with the given chance and volume, drawing from `random`. */
  mix(clips: Float32Array[], mixing: NoiseMixing, random: () => number): void {
    for (const clip of clips) {
      const [apply, which, where, scale] = [random(), random(), random(), random()];
      if (apply >= mixing.probability) continue;
      const noise = this.recordings[Math.floor(which * this.recordings.length)]!;
      const offset = Math.floor(where * (noise.length - clip.length + 1));
      const volume = scale * mixing.volume;
      for (let i = 0; i < clip.length; i++) clip[i] = Math.max(-1, Math.min(1, clip[i]! + volume * noise[offset + i]!));
    }
  }
}
