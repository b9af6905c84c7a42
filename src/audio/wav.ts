// WAV decoding: PCM 8/16/24/32-bit, IEEE float 32/64, WAVE_FORMAT_EXTENSIBLE, any rate and channel count
// (downmixed to mono by averaging), chunks in any order with unknown ones skipped. Every problem becomes a
// WavError that names the file and says what is wrong.
import { TokenwaveError } from '../util/errors.js';

export class WavError extends TokenwaveError {
  override name = 'WavError';
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
  }
}

export interface DecodedWav {
  /** Mono samples in [-1, 1] (channels averaged). */
  samples: Float32Array;
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  format: 'pcm' | 'float';
}

const PCM = 1;
const IEEE_FLOAT = 3;
const EXTENSIBLE = 0xfffe;
/** The size streaming writers put in a data chunk whose length they did not know: read to the end of the file. */
const UNKNOWN_SIZE = 0xffffffff;
/** Sample rates outside this range are damaged headers, not audio. */
const RATES = [1000, 768_000];
/** Larger files are refused (a stream, a device, a runaway file), not read into memory. */
export const MAX_WAV_BYTES = 1 << 30;
/** Float samples beyond this magnitude are damage, not audio (full scale is 1). */
const MAX_FLOAT_SAMPLE = 1000;

interface Chunk {
  id: string;
  offset: number;
  size: number;
}

function chunksOf(view: DataView, file: string): Chunk[] {
  const chunks: Chunk[] = [];
  let offset = 12;
  while (offset + 8 <= view.byteLength) {
    const id = String.fromCharCode(view.getUint8(offset), view.getUint8(offset + 1), view.getUint8(offset + 2), view.getUint8(offset + 3));
    const size = view.getUint32(offset + 4, true);
    chunks.push({ id, offset: offset + 8, size });
    if (id === 'data' && (size === UNKNOWN_SIZE || offset + 8 + size > view.byteLength)) break;
    offset += 8 + size + (size % 2); // chunks are padded to an even length
  }
  if (chunks.length === 0) throw new WavError(file, 'the RIFF container holds no chunks (file cut short after the header?)');
  return chunks;
}

/** Decodes a WAV file's bytes; every problem is a WavError naming `file`. */
export function decodeWav(bytes: Uint8Array, file = '<buffer>'): DecodedWav {
  try {
    return decodeChecked(bytes, file);
  } catch (err) {
    if (err instanceof WavError) throw err;
    // A header field that points outside the file: no read may escape as a bare RangeError.
    throw new WavError(file, `damaged header (${(err as Error).message})`);
  }
}

function decodeChecked(bytes: Uint8Array, file: string): DecodedWav {
  if (bytes.byteLength === 0) throw new WavError(file, 'the file is empty (0 bytes)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = (o: number) => (bytes.byteLength >= o + 4 ? String.fromCharCode(...bytes.subarray(o, o + 4)) : '');
  if (magic(0) === 'RIFX' || magic(0) === 'RF64') {
    throw new WavError(file, `'${magic(0)}' WAV files (big-endian or 64-bit) are not supported; convert to a plain RIFF WAV`);
  }
  if (magic(0) !== 'RIFF' || magic(8) !== 'WAVE') {
    throw new WavError(file, `not a WAV file (expected 'RIFF....WAVE' at the start, found ${JSON.stringify(String.fromCharCode(...bytes.subarray(0, 12)))})`);
  }
  const chunks = chunksOf(view, file);
  const fmt = chunks.find((c) => c.id === 'fmt ');
  const data = chunks.find((c) => c.id === 'data');
  if (!fmt) throw new WavError(file, "no 'fmt ' chunk: the file does not say how its samples are encoded");
  if (!data) throw new WavError(file, "no 'data' chunk: the file holds no audio (truncated?)");
  if (fmt.size < 16) throw new WavError(file, `the 'fmt ' chunk is ${fmt.size} bytes, shorter than the 16 it needs`);
  if (fmt.offset + fmt.size > view.byteLength) throw new WavError(file, `the 'fmt ' chunk is cut short: it declares ${fmt.size} bytes, ${view.byteLength - fmt.offset} follow`);

  let format = view.getUint16(fmt.offset, true);
  const channels = view.getUint16(fmt.offset + 2, true);
  const sampleRate = view.getUint32(fmt.offset + 4, true);
  const blockAlign = view.getUint16(fmt.offset + 12, true);
  const bitsPerSample = view.getUint16(fmt.offset + 14, true);
  if (format === EXTENSIBLE) {
    if (fmt.size < 40) throw new WavError(file, `an extensible 'fmt ' chunk needs 40 bytes, this one has ${fmt.size}`);
    format = view.getUint16(fmt.offset + 24, true); // the first two bytes of the sub-format GUID
  }
  if (format !== PCM && format !== IEEE_FLOAT) {
    throw new WavError(file, `audio format ${format} is compressed or unknown; only PCM (1) and IEEE float (3) are supported`);
  }
  if (channels === 0) throw new WavError(file, 'the header says the file has 0 channels');
  if (sampleRate < RATES[0]! || sampleRate > RATES[1]!) {
    throw new WavError(file, `the header says the sample rate is ${sampleRate} Hz, outside any audio rate (${RATES[0]} to ${RATES[1]} Hz): a damaged header`);
  }
  const validBits = format === PCM ? [8, 16, 24, 32] : [32, 64];
  if (!validBits.includes(bitsPerSample)) {
    throw new WavError(file, `${bitsPerSample}-bit ${format === PCM ? 'PCM' : 'float'} samples are not supported (supported: ${validBits.join(', ')})`);
  }
  const bytesPerSample = bitsPerSample / 8;
  if (blockAlign !== channels * bytesPerSample) {
    throw new WavError(file, `inconsistent header: block align ${blockAlign} should be ${channels} channels x ${bytesPerSample} bytes = ${channels * bytesPerSample}`);
  }

  const available = view.byteLength - data.offset;
  let dataBytes = data.size;
  if (dataBytes === UNKNOWN_SIZE) dataBytes = available - (available % blockAlign);
  else if (dataBytes > available) {
    throw new WavError(file, `truncated: the header declares ${dataBytes} bytes of audio but only ${available} follow`);
  }
  const frames = Math.floor(dataBytes / blockAlign);
  if (frames === 0) throw new WavError(file, "the 'data' chunk holds no samples");
  const samples = new Float32Array(frames);
  const read = sampleReader(view, format, bitsPerSample);
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) {
      const v = read(data.offset + f * blockAlign + c * bytesPerSample);
      if (!(Math.abs(v) <= MAX_FLOAT_SAMPLE)) {
        throw new WavError(file, `sample ${f} (channel ${c}) is ${v}: ${Number.isFinite(v) ? 'far beyond full scale' : 'not a number'}, a damaged file`);
      }
      sum += v;
    }
    samples[f] = sum / channels;
  }
  return { samples, sampleRate, channels, bitsPerSample, format: format === PCM ? 'pcm' : 'float' };
}

function sampleReader(view: DataView, format: number, bits: number): (offset: number) => number {
  if (format === IEEE_FLOAT) return bits === 32 ? (o) => view.getFloat32(o, true) : (o) => view.getFloat64(o, true);
  switch (bits) {
    case 8:
      return (o) => (view.getUint8(o) - 128) / 128; // 8-bit WAV is unsigned
    case 16:
      return (o) => view.getInt16(o, true) / 32768;
    case 24:
      return (o) => (((view.getUint8(o + 2) << 24) | (view.getUint8(o + 1) << 16) | (view.getUint8(o) << 8)) >> 8) / 8388608;
    default:
      return (o) => view.getInt32(o, true) / 2147483648;
  }
}

/** Encodes mono samples as 16-bit PCM WAV (for generated data sets and test fixtures). */
export function encodeWav16(samples: Float32Array, sampleRate: number): Uint8Array {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(bytes.buffer);
  const text = (o: number, s: string) => [...s].forEach((ch, i) => view.setUint8(o + i, ch.charCodeAt(0)));
  text(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  text(8, 'WAVE');
  text(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, PCM, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  text(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    view.setInt16(44 + 2 * i, Math.round(Math.max(-1, Math.min(1, samples[i]!)) * 32767), true);
  }
  return bytes;
}
