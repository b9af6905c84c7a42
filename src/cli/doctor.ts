// `tokenwave doctor`: the adapter, its limits and features, and a self-test kernel checked against the CPU.
import { Command } from 'commander';
import { Runtime } from '../runtime/runtime.js';
import { runSelfTest } from '../runtime/selftest.js';
import { backendOption } from './options.js';

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

async function doctor(options: { backend?: string; json?: boolean }): Promise<number> {
  const runtime = await Runtime.create({ backend: options.backend });
  try {
    const selfTest = await runSelfTest(runtime);
    const limits = Object.fromEntries(LIMITS_SHOWN.map((k) => [k, runtime.limits[k]]));
    const report = {
      adapter: runtime.adapterName,
      backend: runtime.backend,
      featureLevel: runtime.featureLevel,
      software: runtime.software,
      features: runtime.features,
      limits,
      attempts: runtime.attempts,
      selfTest,
    };
    if (options.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(`adapter:       ${report.adapter}`);
      console.log(`backend:       ${report.backend} (${report.featureLevel} feature level)`);
      console.log(`kind:          ${report.software ? 'software (CPU rasterizer, no GPU)' : 'hardware GPU'}`);
      console.log(`features:      ${report.features.join(', ') || '(none)'}`);
      console.log(`timestamps:    ${report.features.includes('timestamp-query') ? 'yes' : 'no (whole steps are timed on the CPU)'}`);
      console.log('limits:');
      for (const [key, value] of Object.entries(limits)) console.log(`  ${key.padEnd(36)} ${value}`);
      console.log(`adapters tried: ${report.attempts.join('; ')}`);
      console.log(selfTest.message);
    }
    return selfTest.ok ? 0 : 1;
  } finally {
    runtime.destroy();
  }
}

export const doctorCommand = new Command('doctor')
  .description('show the WebGPU adapter, its limits and features, and run a self-test kernel against the CPU')
  .addOption(backendOption())
  .option('--json', 'print the report as JSON')
  .action(async (opts: { backend?: string; json?: boolean }) => {
    process.exitCode = await doctor(opts);
  });
