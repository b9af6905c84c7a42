// A zlib stream of uncompressed ("stored") deflate blocks: valid for every inflater, no compression. The page's
// PNGs use it where Node's zlib is not at hand (a browser has no synchronous deflate).

const BLOCK = 65_535;

function adler32(bytes: Uint8Array): number {
  let a = 1;
  let b = 0;
  for (let i = 0; i < bytes.length; i += 5552) {
    // 5552 bytes is the most that can be summed before the 32-bit sums must be reduced
    const end = Math.min(bytes.length, i + 5552);
    for (let j = i; j < end; j++) {
      a += bytes[j]!;
      b += a;
    }
    a %= 65521;
    b %= 65521;
  }
  return ((b << 16) | a) >>> 0;
}

export function storedZlib(data: Uint8Array): Uint8Array {
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK));
  const out = new Uint8Array(2 + 5 * blocks + data.length + 4);
  out[0] = 0x78; // deflate, 32 KiB window
  out[1] = 0x01; // no dictionary, fastest; (0x78 << 8 | 0x01) is a multiple of 31 as the header check requires
  let at = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK;
    const length = Math.min(BLOCK, data.length - start);
    out[at] = b === blocks - 1 ? 1 : 0; // BFINAL on the last; BTYPE 00: stored
    out[at + 1] = length & 0xff;
    out[at + 2] = length >>> 8;
    out[at + 3] = ~length & 0xff;
    out[at + 4] = (~length >>> 8) & 0xff;
    out.set(data.subarray(start, start + length), at + 5);
    at += 5 + length;
  }
  new DataView(out.buffer).setUint32(at, adler32(data));
  return out;
}
