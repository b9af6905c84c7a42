// One fused AdamW step over packed parameter tensors, in place, four values per invocation:
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p = p - lr * (m c1) / (sqrt(v c2) + eps) - decay * p      (c1, c2: bias corrections; decay decoupled)
// param, m and v bind the same range of three packed storages; tensor s starts at element starts[s] of it and
// holds sizes[s] values, its gradient bound as g<s>. Starts are multiples of 64, so a group of four never straddles
// two tensors and the choice of gradient is the same across a workgroup but at its tensor's edges. Groups past a
// tensor's end (its alignment padding, a parameter left out) are left alone; the padding lanes of a tensor's last
// group compute with g = 0 on zeros and stay zero.

// ARENA: every gradient lies in one gradient arena packed as the parameters are (bound as `grads`); `table` holds,
// for each block of 64 elements, the tensor it belongs to (tensors start on such blocks), then the tensors' starts,
// then their sizes: one dispatch for a model, two lookups an invocation.

fn run(q: u32) {
  let i = q * 4u;
#if ${ARENA}
  let found = u32(table[i / ${ARENA_BLOCK}u]);
  let start = u32(table[u.blocks + found]);
  let size = u32(table[u.blocks + u.tensors + found]);
  let j = i - start;
  if (j >= size) { return; }
  let lanes = min(size - j, 4u);
  let g = select(vec4f(0.0), grads[q], vec4u(0u, 1u, 2u, 3u) < vec4u(lanes));
#else
  var s = 0u;
  var start = u.starts_lo[0][0];
  var size = u.sizes_lo[0][0];
  ${FIND_TENSOR}
  let j = i - start;
  if (j >= size) { return; }
  var g = vec4f(0.0);
  let lanes = min(size - j, 4u);
  switch s {
    ${READ_GRADIENT}
    default: {}
  }
#endif
  let p = param[q];
  let m1 = fma(vec4f(u.beta1), m[q], u.one_minus_beta1 * g);
  let v1 = fma(vec4f(u.beta2), v[q], u.one_minus_beta2 * (g * g));
  m[q] = m1;
  v[q] = v1;
  let update = (m1 * u.c1) / (sqrt(v1 * u.c2) + u.eps);
  param[q] = p - u.lr * update - u.decay * p;
}
