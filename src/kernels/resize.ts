// Bilinear resize of images, TensorFlow's way (half-pixel centres, no antialiasing).
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

/** y = x * scale + shift on every output (a normalization), in the same dispatch. */
export interface Affine {
  scale: number;
  shift: number;
}

/** Bilinear resize of images [N, H, W] to [N, OH, OW], then `affine` where given. */
export function resizeKernel(images: Tensor, outHeight: number, outWidth: number, affine?: Affine): Tensor {
  const [, H, W] = images.shape as [number, number, number];
  const out = Tensor.empty([images.shape[0]!, outHeight, outWidth]);
  launch({
    kernel: {
      name: affine ? 'resize-bilinear+affine' : 'resize-bilinear',
      file: 'resize.wgsl',
      constants: { AFFINE: affine !== undefined },
      bindings: [read('src'), write('dst')],
      uniforms: { H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', scale_y: 'f32', scale_x: 'f32', a_scale: 'f32', a_shift: 'f32' },
    },
    op: 'resize',
    uniforms: { H, W, OH: outHeight, OW: outWidth, scale_y: H / outHeight, scale_x: W / outWidth, a_scale: affine?.scale ?? 1, a_shift: affine?.shift ?? 0 },
    tensors: { src: images, dst: out },
    invocations: out.size,
    // three linear interpolations (a subtract and an fma each) per output, and the affine's fma; coordinate
    // arithmetic is not counted
    counts: { add: 3 * out.size, fma: (affine ? 4 : 3) * out.size },
    bytesRead: 4 * out.size * 4,
  });
  return out;
}
