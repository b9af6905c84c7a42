// Bilinear resize of images, TensorFlow's way (half-pixel centres, no antialiasing).
import { Tensor } from '../tensor/tensor.js';
import { launch, read, write } from './launch.js';

/** Bilinear resize of images [N, H, W] to [N, OH, OW]. */
export function resizeKernel(images: Tensor, outHeight: number, outWidth: number): Tensor {
  const [, H, W] = images.shape as [number, number, number];
  const out = Tensor.empty([images.shape[0]!, outHeight, outWidth]);
  launch({
    kernel: {
      name: 'resize-bilinear',
      file: 'resize.wgsl',
      bindings: [read('src'), write('dst')],
      uniforms: { H: 'u32', W: 'u32', OH: 'u32', OW: 'u32', scale_y: 'f32', scale_x: 'f32' },
    },
    op: 'resize',
    uniforms: { H, W, OH: outHeight, OW: outWidth, scale_y: H / outHeight, scale_x: W / outWidth },
    tensors: { src: images, dst: out },
    invocations: out.size,
    // three linear interpolations (a subtract and an fma each) per output; coordinate arithmetic is not counted
    counts: { add: 3 * out.size, fma: 3 * out.size },
    bytesRead: 4 * out.size * 4,
  });
  return out;
}
