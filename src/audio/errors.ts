import { TokenwaveError } from '../util/errors.js';

/** Front-end settings that cannot work: a spectrogram configuration, a sample rate, a clip shorter than a frame. */
export class AudioError extends TokenwaveError {
  override name = 'AudioError';
}
