// Listening: the microphone's samples through an AudioWorklet into a ring buffer of the last seconds; several
// times a second the page draws their spectrogram and asks the model for the top classes of the last second.
import * as tokenwave from '../src/browser.js';
import type { Loaded } from './main.js';

/** Seconds of sound the picture shows. */
const HISTORY_S = 3;
/** How often the page answers. */
const ANSWER_EVERY_MS = 250;
/** The picture's settings when no model is open: the paper's spectrogram. */
const DEFAULT_SPECTROGRAM = tokenwave.PAPER_SPECTROGRAM;

export interface LiveAnswer {
  /** ms since the page opened. */
  at: number;
  top: { label: string; probability: number }[];
  /** From taking the last second's samples to its probabilities read back: resampling, spectrogram, model. */
  latencyMs: number;
}

interface Views {
  picture: HTMLElement;
  top: HTMLElement;
  latency: HTMLElement;
  onAnswer(answer: LiveAnswer): void;
  onError(err: unknown): void;
}

// Posts each 128-sample block of the first input channel to the page.
const CAPTURE_WORKLET = `
registerProcessor('tokenwave-capture', class extends AudioWorkletProcessor {
  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (channel) this.port.postMessage(channel.slice(0));
    return true;
  }
});`;

const NO_MICROPHONE = 'this browser gives the page no microphone (navigator.mediaDevices is missing): open the page from https:// or localhost';

export class Listener {
  private readonly ring: Float32Array;
  private written = 0;
  private busy = false;
  private readonly timer: ReturnType<typeof setInterval>;
  private readonly latencies: number[] = [];

  private constructor(
    private readonly stream: MediaStream,
    private readonly context: AudioContext,
    private readonly model: () => Loaded | undefined,
    private readonly views: Views,
  ) {
    this.ring = new Float32Array(HISTORY_S * context.sampleRate);
    this.timer = setInterval(() => void this.answer(), ANSWER_EVERY_MS);
  }

  static async start(model: () => Loaded | undefined, views: Views): Promise<Listener> {
    if (!navigator.mediaDevices?.getUserMedia) throw new tokenwave.TokenwaveError(NO_MICROPHONE);
    let stream: MediaStream;
    try {
      // the model was trained on plain recordings: no echo cancelling, noise suppression or gain riding
      stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false } });
    } catch (err) {
      throw new tokenwave.TokenwaveError(`the microphone was not given (${(err as Error).message}): allow it for this page in the browser's site settings`);
    }
    const context = new AudioContext();
    const url = URL.createObjectURL(new Blob([CAPTURE_WORKLET], { type: 'text/javascript' }));
    await context.audioWorklet.addModule(url);
    URL.revokeObjectURL(url);
    const capture = new AudioWorkletNode(context, 'tokenwave-capture');
    const listener = new Listener(stream, context, model, views);
    capture.port.onmessage = (event: MessageEvent<Float32Array>) => listener.push(event.data);
    context.createMediaStreamSource(stream).connect(capture);
    capture.connect(context.destination); // pulled by the graph; it writes silence
    await context.resume();
    return listener;
  }

  private push(block: Float32Array): void {
    for (const sample of block) this.ring[this.written++ % this.ring.length] = sample;
  }

  /** The last `count` samples in time order (zeros before the microphone had given that many). */
  private last(count: number): Float32Array {
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const at = this.written - count + i;
      if (at >= 0) out[i] = this.ring[at % this.ring.length]!;
    }
    return out;
  }

  private async answer(): Promise<void> {
    if (this.busy) return; // the previous answer is still running: skip a turn rather than queue
    this.busy = true;
    try {
      const loaded = this.model();
      const config = loaded?.model.config.spectrogram ?? DEFAULT_SPECTROGRAM;
      const start = performance.now();
      const history = this.last(this.ring.length);
      const sound = this.context.sampleRate === config.sampleRate ? history : tokenwave.resample(history, this.context.sampleRate, config.sampleRate);
      if (loaded) {
        const { clipSamples } = loaded.model.config;
        const probabilities = tokenwave.tidy(() => loaded.classifier.probabilities(tokenwave.Tensor.from(sound.slice(-clipSamples), [1, clipSamples])));
        const values = await probabilities.data();
        probabilities.dispose();
        const latencyMs = performance.now() - start;
        const top = tokenwave.topClasses(loaded.model, values, 3).map(({ label, probability }) => ({ label, probability }));
        this.showAnswer({ at: performance.now(), top, latencyMs });
      } else {
        this.views.latency.textContent = 'open a checkpoint to have the page name what it hears';
      }
      await this.draw(sound, config);
    } catch (err) {
      this.views.onError(err);
    } finally {
      this.busy = false;
    }
  }

  private showAnswer(answer: LiveAnswer): void {
    this.views.onAnswer(answer);
    this.latencies.push(answer.latencyMs);
    if (this.latencies.length > 40) this.latencies.shift();
    const sorted = [...this.latencies].sort((a, b) => a - b);
    this.views.top.replaceChildren(
      ...answer.top.map((t) => {
        const item = document.createElement('li');
        item.textContent = `${t.label} ${(100 * t.probability).toFixed(1)}%`;
        return item;
      }),
    );
    this.views.latency.textContent =
      `answered in ${answer.latencyMs.toFixed(1)} ms (median of the last ${sorted.length}: ` +
      `${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms), from the last second's samples to its probabilities`;
  }

  /** The last seconds as `tokenwave spectrogram` draws them (MFCC models: their log-mel bands, which people can read). */
  private async draw(sound: Float32Array, config: tokenwave.SpectrogramConfig): Promise<void> {
    const shown = config.output === 'mfcc' ? { ...config, output: 'logmel' as const } : config;
    const { values, frames, bins } = await tokenwave.longSpectrogram(sound, shown);
    this.views.picture.innerHTML = tokenwave.spectrogramSvg(values, frames, bins, shown, `the microphone, the last ${HISTORY_S} s`);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    for (const track of this.stream.getTracks()) track.stop();
    await this.context.close();
  }
}
