// `npm run bench`: tokenwave's kernels against peers measured in the same run, on the same adapter.
import { init, shutdown } from '../src/tensor/engine.js';
import { MATMUL_SHAPES, tokenwaveMatmul } from './matmul.js';
import { tfjsMatmul, useTfjsWebgpu } from './peers.js';
import { spectrogramThroughput } from './spectrogram.js';

const eng = await init();
console.log(`adapter: ${eng.runtime.adapterName} (${eng.runtime.backend}${eng.runtime.software ? ', software' : ''})`);
const peer = await useTfjsWebgpu();
console.log(`peer:    ${peer}, on its own device from the same adapter\n`);
console.log('matmul GFLOP/s (2 FLOPs per multiply-add; median of 3 timed rounds of at least 1 s each)');
console.log(`  ${'shape'.padEnd(58)} ${'tokenwave'.padStart(9)} ${'tfjs'.padStart(7)} ${'ratio'.padStart(6)}`);
const median = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)]!;
for (const shape of MATMUL_SHAPES) {
  const ours: number[] = [];
  const theirs: number[] = [];
  for (let round = 0; round < 3; round++) {
    ours.push(await tokenwaveMatmul(shape));
    theirs.push(await tfjsMatmul(shape));
  }
  const [a, b] = [median(ours), median(theirs)];
  console.log(`  ${shape.label.padEnd(58)} ${a.toFixed(2).padStart(9)} ${b.toFixed(2).padStart(7)} ${(a / b).toFixed(2).padStart(5)}x`);
}

console.log('\nspectrograms per second (paper preset, 1 s clips at 16 kHz -> 124 x 129; median of 3 rounds)');
console.log(`  ${'batch'.padEnd(10)} ${'tokenwave GPU'.padStart(13)} ${'TypeScript CPU'.padStart(15)} ${'ratio'.padStart(6)}`);
for (const clips of [1, 16, 64]) {
  const gpu: number[] = [];
  const cpu: number[] = [];
  for (let round = 0; round < 3; round++) {
    const r = await spectrogramThroughput(clips);
    gpu.push(r.gpu);
    cpu.push(r.cpu);
  }
  const [a, b] = [median(gpu), median(cpu)];
  console.log(`  ${String(clips).padEnd(10)} ${a.toFixed(1).padStart(13)} ${b.toFixed(1).padStart(15)} ${(a / b).toFixed(2).padStart(5)}x`);
}
shutdown();
process.exit(0);
