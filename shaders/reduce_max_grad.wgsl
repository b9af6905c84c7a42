// Gradient of a max over the middle axis of [outer, n, inner]: dy goes to the first position holding the row's
// maximum, zero elsewhere. One invocation per output row.
fn run(o: u32) {
  let base = (o / u.inner) * u.n * u.inner + o % u.inner;
  let y = ys[o];
  var found = false;
  for (var k = 0u; k < u.n; k++) {
    let hit = !found && xs[base + k * u.inner] == y;
    dxs[base + k * u.inner] = select(0.0, dys[o], hit);
    found = found || hit;
  }
}
