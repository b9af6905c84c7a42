// `tokenwave doctor`: the adapter, its limits and features, and a self-test kernel checked against the CPU.
import { Command } from 'commander';
import { machinePeaks, type Peaks } from '../profile/peaks.js';
import { runSelfTest, timestampResolutionNs } from '../runtime/selftest.js';
import { tunedChoices, tuneMode } from '../kernels/tuner.js';
import { init, shutdown } from '../tensor/engine.js';
import { backendOption } from './options.js';
import { formatTimings } from './tune.js';

const LIMITS_SHOWN = [
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'minUniformBufferOffsetAlignment',
] as const;

async function doctor(options: { backend?: string; json?: boolean; peaks?: boolean }): Promise<number> {
  const { runtime } = await init({ backend: options.backend });
  try {
    const selfTest = await runSelfTest(runtime);
    let peaks: Peaks | undefined;
    if (options.peaks && selfTest.ok) {
      if (!options.json) console.error('measuring peaks (best matmul, copy bandwidth) ...');
      peaks = await machinePeaks({ remeasure: true });
    }
    const limits = Object.fromEntries(LIMITS_SHOWN.map((k) => [k, runtime.limits[k]]));
    const resolutionNs = selfTest.ok ? await timestampResolutionNs(runtime) : undefined;
    const report = {
      adapter: runtime.adapterName,
      backend: runtime.backend,
      featureLevel: runtime.featureLevel,
      software: runtime.software,
      features: runtime.features,
      limits,
      kernelVariants: runtime.kernelVariants,
      ...(runtime.subgroupSize !== undefined ? { subgroupSize: runtime.subgroupSize } : {}),
      ...(resolutionNs !== undefined ? { timestampResolutionNs: resolutionNs } : {}),
      attempts: runtime.attempts,
      selfTest,
      ...(peaks ? { peaks } : {}),
      tuning: { mode: tuneMode(), ...tunedChoices() },
    };
    if (options.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(`adapter:       ${report.adapter}`);
      console.log(`backend:       ${report.backend} (${report.featureLevel} feature level)`);
      console.log(`kind:          ${report.software ? 'software (CPU rasterizer, no GPU)' : 'hardware GPU'}; ${report.kernelVariants} kernel variants`);
      console.log(`features:      ${report.features.join(', ') || '(none)'}`);
      const resolution = resolutionNs === undefined ? '' : `, resolution ${resolutionNs.toLocaleString('en-US')} ns${resolutionNs >= 65_536 ? " (Dawn's quantization: kernels shorter than about 0.1 ms read as 0 or one tick)" : ''}`;
      console.log(`timestamps:    ${report.features.includes('timestamp-query') ? `yes${resolution}` : 'no (whole steps are timed on the CPU)'}`);
      const subgroups = report.features.includes('subgroups')
        ? report.subgroupSize !== undefined
          ? `yes, ${report.subgroupSize} lanes (subgroup kernel variants are tuning candidates)`
          : 'yes, of varying size (subgroup kernel variants are not candidates: their reductions\' adds would be unknown)'
        : 'no';
      console.log(`subgroups:     ${subgroups}`);
      console.log('limits:');
      for (const [key, value] of Object.entries(limits)) console.log(`  ${key.padEnd(36)} ${value}`);
      console.log(`adapters tried: ${report.attempts.join('; ')}`);
      console.log(selfTest.message);
      const tuned = Object.entries(report.tuning.choices);
      console.log(`tuning:        TOKENWAVE_TUNE=${report.tuning.mode}; ${tuned.length} kernel shape classes tuned for this adapter (${report.tuning.file})`);
      for (const [key, choice] of tuned) {
        console.log(`  ${key}: ${choice.variant} (ms per call: ${formatTimings(choice.ms)}${choice.recheck ? `; re-timed beside the rule: ${formatTimings(choice.recheck)}` : ''})`);
      }
      if (peaks) {
        console.log(`peaks:         ${peaks.gflops.toFixed(2)} GFLOP/s (best matmul, ${peaks.matmul}), ${peaks.gbps.toFixed(2)} GB/s (copy); cached for the profiler's roofline`);
      }
    }
    return selfTest.ok ? 0 : 1;
  } finally {
    shutdown();
  }
}

export const doctorCommand = new Command('doctor')
  .description('show the WebGPU adapter, its limits and features, and run a self-test kernel against the CPU')
  .addOption(backendOption())
  .option('--json', 'print the report as JSON')
  .option('--peaks', "measure this adapter's best matmul GFLOP/s and copy GB/s (the profiler's roofline) and cache them")
  .action(async (opts: { backend?: string; json?: boolean; peaks?: boolean }) => {
    process.exitCode = await doctor(opts);
  });
