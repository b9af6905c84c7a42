// Float64 arithmetic that counts every primitive it performs, so each kernel's declared FLOPs can be checked
// against an independent implementation of the same math.
import { counts, type OpCounts } from '../../src/tensor/counts.js';

export class Counter {
  c: OpCounts = counts();
  add(a: number, b: number): number {
    this.c.add++;
    return a + b;
  }
  sub(a: number, b: number): number {
    this.c.add++;
    return a - b;
  }
  mul(a: number, b: number): number {
    this.c.mul++;
    return a * b;
  }
  neg(a: number): number {
    this.c.mul++;
    return -a;
  }
  div(a: number, b: number): number {
    this.c.div++;
    return a / b;
  }
  fma(a: number, b: number, c: number): number {
    this.c.fma++;
    return a * b + c;
  }
  max(a: number, b: number): number {
    this.c.cmp++;
    return Math.max(a, b);
  }
  min(a: number, b: number): number {
    this.c.cmp++;
    return Math.min(a, b);
  }
  gt(a: number, b: number): boolean {
    this.c.cmp++;
    return a > b;
  }
  exp(a: number): number {
    this.c.exp++;
    return Math.exp(a);
  }
  log(a: number): number {
    this.c.log++;
    return Math.log(a);
  }
  sqrt(a: number): number {
    this.c.sqrt++;
    return Math.sqrt(a);
  }
  rsqrt(a: number): number {
    this.c.rsqrt++;
    return 1 / Math.sqrt(a);
  }
  tanh(a: number): number {
    this.c.tanh++;
    return Math.tanh(a);
  }
  erf(a: number): number {
    this.c.erf++;
    return erf64(a);
  }
}

/** erf to ~1e-14: Maclaurin series near 0, a continued fraction for erfc in the tails. */
export function erf64(x: number): number {
  const z = Math.abs(x);
  let r: number;
  if (z < 3) {
    let term = z;
    let sum = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(z) = exp(-z^2)/sqrt(pi) * 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...))))
    let f = z;
    for (let k = 60; k >= 1; k--) f = z + k / 2 / f;
    r = 1 - Math.exp(-z * z) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}
