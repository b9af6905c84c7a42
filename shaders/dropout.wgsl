// Inverted dropout: element i kept (scaled by 1 / (1 - p)) or zeroed as dropout_mask.wgsl draws it. The mask is
// never stored: the backward pass runs this kernel on dy with the same seed.
#include "dropout_mask.wgsl"

fn run(i: u32) {
  y[i] = x[i] * dropout_factor(i);
}
