// The safetensors format (https://huggingface.co/docs/safetensors): an 8-byte little-endian header length, a JSON
// header naming each tensor's dtype, shape and byte range, then the raw little-endian data. Float32 only here.
import { TokenwaveError } from '../util/errors.js';

export interface NamedArray {
  name: string;
  shape: number[];
  data: Float32Array;
}

export class SafetensorsError extends TokenwaveError {
  override name = 'SafetensorsError';
}

export function encodeSafetensors(tensors: readonly NamedArray[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.data.length !== t.shape.reduce((p, d) => p * d, 1)) throw new SafetensorsError(`${t.name}: data does not match shape [${t.shape.join(', ')}]`);
    header[t.name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8); // keep the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let position = 8 + headerBytes.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), position);
    position += t.data.byteLength;
  }
  return out;
}

export function decodeSafetensors(bytes: Uint8Array, file = '<buffer>'): { tensors: Map<string, NamedArray>; metadata: Record<string, string> } {
  const fail = (why: string) => {
    throw new SafetensorsError(`${file}: ${why}`);
  };
  if (bytes.length < 8) fail('too short to be a safetensors file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (8 + headerLength > bytes.length) fail(`the header claims ${headerLength} bytes but the file has ${bytes.length}`);
  let header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch {
    return fail('the header is not valid JSON');
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, NamedArray>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as unknown as Record<string, string>;
      continue;
    }
    if (entry.dtype !== 'F32') fail(`${name}: dtype ${entry.dtype} is not supported (F32 only)`);
    const [begin, end] = entry.data_offsets;
    const count = entry.shape.reduce((p, d) => p * d, 1);
    if (end - begin !== count * 4 || dataStart + end > bytes.length) fail(`${name}: byte range [${begin}, ${end}) does not fit shape [${entry.shape.join(', ')}] or the file`);
    const data = new Float32Array(count);
    new Uint8Array(data.buffer).set(bytes.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { name, shape: entry.shape, data });
  }
  return { tensors, metadata };
}
