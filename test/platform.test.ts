// The platform seam: what the page's build does differently from Node's, checked against Node's own tools.
import { inflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { platform } from '../src/runtime/platform.js';
import { storedZlib } from '../src/util/stored-zlib.js';
import { seededRandom } from '../src/util/random.js';

describe('stored zlib (the page deflates PNGs with it)', () => {
  it('inflates back to the input with Node zlib, across block boundaries (65,535 bytes a block) and at 0 bytes', () => {
    const random = seededRandom(3);
    for (const size of [0, 1, 1000, 65_535, 65_536, 200_003]) {
      const data = Uint8Array.from({ length: size }, () => Math.floor(random() * 256));
      const packed = storedZlib(data);
      expect(packed.length, `size ${size}`).toBe(2 + 5 * Math.max(1, Math.ceil(size / 65_535)) + size + 4);
      expect(Buffer.from(inflateSync(packed)).equals(Buffer.from(data)), `size ${size}`).toBe(true);
    }
  });

  it('carries a checksum that inflaters verify: a flipped byte is refused', () => {
    const packed = storedZlib(new TextEncoder().encode('tokenwave'.repeat(100)));
    packed[10] = packed[10]! ^ 1;
    expect(() => inflateSync(packed)).toThrow(/check/);
  });
});

describe('the Node platform', () => {
  it('is what Node resolves #platform to, and reads shaders/ with its includes left for the kernel renderer', () => {
    expect(platform.name).toBe('node');
    expect(platform.shaderText('common.wgsl')).toMatch(/fn /);
    expect(platform.setting('TOKENWAVE_TUNE')).toBe('off'); // vitest.config.ts sets it
  });
});
