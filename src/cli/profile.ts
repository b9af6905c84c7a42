// `tokenwave profile MODEL`: where every millisecond, FLOP and byte of a forward pass or training step goes.
import { dirname } from 'node:path';
import { Command, Option } from 'commander';
import { prepareClip } from '../audio/clips.js';
import { readWav } from '../audio/wav-files.js';
import { modelConfig } from '../models/config.js';
import { machinePeaks } from '../profile/peaks.js';
import { formatRows, GROUPINGS, groupRecords, summarize, type Grouping, type ProfileRow } from '../profile/report.js';
import { rooflineSvg } from '../profile/roofline.js';
import { HOST_STEPS, medianStep, profileModel } from '../profile/session.js';
import { chromeTrace } from '../profile/trace.js';
import type { TimingMethod } from '../runtime/timer.js';
import { init, shutdown } from '../tensor/engine.js';
import { checkBatchFits } from '../train/fits.js';
import { tuneSteps } from './tune.js';
import { makeFolder, writeFileAtomic } from '../util/files.js';
import { median } from '../util/timing.js';
import { backendOption, integerOption, parseModelOptions, UsageError } from './options.js';

interface ProfileCommandOptions {
  train?: boolean;
  batch: string;
  steps: string;
  warmup: string;
  by: string;
  top: string;
  trace?: string;
  roofline?: string;
  json?: boolean;
  timing: 'auto' | TimingMethod;
  input?: string[];
  modelOptions?: string;
  backend?: string;
}

const METHOD_TEXT: Record<TimingMethod, string> = {
  timestamps: 'GPU timestamps, one query pair per dispatch',
  isolated: 'each dispatch replayed alone after the step (submitted by itself and waited for), minus the cost of an empty submit',
};

async function write(path: string, data: string): Promise<void> {
  await makeFolder(dirname(path));
  await writeFileAtomic(path, data);
}

async function profile(name: string, o: ProfileCommandOptions): Promise<void> {
  const groupings = o.by.split(',').map((g) => g.trim()) as Grouping[];
  const unknown = groupings.find((g) => !(GROUPINGS as readonly string[]).includes(g));
  if (unknown !== undefined) throw new UsageError(`--by takes ${GROUPINGS.join(', ')} (comma-separated), got '${unknown}'`);
  const config = modelConfig(name, parseModelOptions(o.modelOptions));
  const batch = integerOption('batch', o.batch)!;
  const steps = integerOption('steps', o.steps)!;
  const warmup = integerOption('warmup', o.warmup, 0)!;
  const top = integerOption('top', o.top)!;
  const clips: Float32Array[] = [];
  for (const file of o.input ?? []) clips.push(prepareClip(await readWav(file), config.spectrogram.sampleRate, config.clipSamples));
  await init({ backend: o.backend });
  try {
    await checkBatchFits(config, batch, o.train ? 'training' : 'inference', '--batch');
    await tuneSteps(config, [{ batch, kind: o.train ? 'training' : 'inference' }]);
    const peaks = await machinePeaks({ onMeasure: () => console.error('measuring this adapter\'s peaks for the roofline (once; cached) ...') });
    const p = await profileModel(config, { train: !!o.train, batch, steps, warmup, clips, method: o.timing === 'auto' ? undefined : o.timing });
    const { records, wallMs, kernelMs } = medianStep(p.steps);
    const gapMs = wallMs - kernelMs;
    const tables = new Map(groupings.map((g) => [g, groupRecords(records, g, 1, wallMs, peaks)]));
    const byKernel = tables.get('kernel') ?? groupRecords(records, 'kernel', 1, wallMs, peaks);
    const whole = summarize('whole step', records, 1, wallMs, peaks);
    const title = `${p.model} ${p.mode}, batch ${batch}`;
    if (o.trace) await write(o.trace, JSON.stringify(chromeTrace(p.steps, `tokenwave profile: ${title}`)));
    if (o.roofline) await write(o.roofline, rooflineSvg(byKernel, peaks, `${title}: roofline (${p.adapter.split(' - ')[0]})`));
    if (o.json) {
      console.log(JSON.stringify({ ...p, steps, stepMs: wallMs, kernelMs, gapMs, peaks, whole, groups: Object.fromEntries(tables) }, null, 2));
      return;
    }
    const topShare = byKernel.slice(0, 5).reduce((s, r) => s + r.share, 0);
    console.log(`${title}: the median of ${steps} profiled after ${warmup} warm-up, ${p.parameters.toLocaleString('en-US')} parameters`);
    console.log(`adapter: ${p.adapter} (${p.backend}, ${p.kernelVariants} kernel variants)`);
    console.log(`timing:  ${METHOD_TEXT[p.method]}${p.timestampResolutionNs === undefined ? '' : `; resolution ${p.timestampResolutionNs.toLocaleString('en-US')} ns`}`);
    const resolutionMs = (p.timestampResolutionNs ?? 0) / 1e6;
    const typicalMs = median(records.map((r) => r.ms));
    if (typicalMs < 10 * resolutionMs) {
      console.log(`         the timestamps are coarse for these kernels (the median kernel takes ${(typicalMs * 1000).toFixed(1)} us, under 10 ticks): per-kernel times are rounded; --timing isolated times each alone`);
    }
    const made = Object.values(p.kernels.choices);
    const tuned = made.filter((c) => c.by === 'tuned').length;
    console.log(`kernels: TOKENWAVE_TUNE=${p.kernels.tuning}: ${tuned} of ${made.length} shape classes by the tuner's measurements, ${made.length - tuned} by the rules (--json lists them; the kernel names below say the variants)`);
    console.log(
      `step:    ${wallMs.toFixed(1)} ms measured (wall); ${kernelMs.toFixed(1)} ms in kernels (${((100 * kernelMs) / wallMs).toFixed(1)}%), ` +
        `${gapMs.toFixed(1)} ms outside them (JavaScript, encoding, submits); ${(whole.flops / 1e9).toFixed(3)} GFLOP, ` +
        `${((whole.flops / wallMs) * 1e-6).toFixed(2)} GFLOP/s, ${((1000 * batch) / wallMs).toFixed(1)} clips/s`,
    );
    console.log(`host:    ${p.encodeMs.toFixed(1)} ms of JavaScript per step to build and encode its ${records.length} dispatches (timed on ${HOST_STEPS} steps at batch 1); ${p.plannedEncodeMs.toFixed(1)} ms replayed from its plan (as training and evaluation run)`);
    console.log(`roof:    ${peaks.gflops.toFixed(2)} GFLOP/s (matmul ${peaks.matmul}), ${peaks.gbps.toFixed(2)} GB/s (copy), measured ${peaks.measuredAt.slice(0, 10)}`);
    console.log(`top 5 kernels: ${(100 * topShare).toFixed(1)}% of the step (${byKernel.slice(0, 5).map((r) => r.name).join(', ')})\n`);
    const gapRow: ProfileRow = { ...summarize('(outside kernels)', [], 1, wallMs, peaks), ms: gapMs, share: gapMs / wallMs };
    for (const [g, rows] of tables) console.log(formatRows([...rows.slice(0, top), gapRow, ...rows.slice(top)], top + 1, g) + '\n');
    if (o.trace) console.log(`wrote ${o.trace} (Chrome trace: open in https://ui.perfetto.dev or chrome://tracing)`);
    if (o.roofline) console.log(`wrote ${o.roofline}`);
  } finally {
    shutdown();
  }
}

export const profileCommand = new Command('profile')
  .description('profile a model: time, FLOPs and bytes of every kernel of a forward pass or training step, by kernel, module, op or phase')
  .argument('<model>', 'a model name, e.g. TASR_4L_8T-8H, KWT-1_8T')
  .option('--train', 'profile training steps (forward, loss, backward, AdamW) instead of inference')
  .option('--batch <n>', 'clips per batch', '16')
  .option('--steps <n>', 'profiled passes or steps (tables show the median step: each dispatch\'s median time)', '3')
  .option('--warmup <n>', 'passes run first and not profiled (pipelines compiled, buffers pooled)', '2')
  .option('--by <groups>', `tables to print, comma-separated: ${GROUPINGS.join(', ')}`, 'kernel,module')
  .option('--top <n>', 'rows per table', '15')
  .option('--trace <file.json>', 'write a Chrome trace (Perfetto, chrome://tracing): one event per dispatch, a track per phase')
  .option('--roofline <file.svg>', 'write the roofline: each kernel a dot sized by its time under the measured peaks')
  .option('--json', 'print the report as JSON')
  .addOption(new Option('--timing <method>', "'timestamps' (GPU timestamp queries) or 'isolated' (each dispatch replayed alone); auto: timestamps where the adapter has them").choices(['auto', 'timestamps', 'isolated']).default('auto'))
  .option('--input <wav...>', 'profile on these clips (cycled to fill the batch) instead of random spectrograms')
  .option('--model-options <json>', 'model options beyond the name, as for train')
  .addOption(backendOption())
  .action(profile);
