// `tokenwave tune`: times the kernel variants of models' shapes ahead of time and caches the fastest per adapter
// (kernels/tuner.ts); and the progress every command shows while it tunes what it is about to run.
import { Command } from 'commander';
import { tuneMode, type TuneResult } from '../kernels/tuner.js';
import { modelConfig, protocolOf, type ModelConfig } from '../models/config.js';
import type { StepKind } from '../train/fits.js';
import { tuneModel } from '../train/tune.js';
import { init, shutdown } from '../tensor/engine.js';
import { backendOption, integerOption } from './options.js';
import { progressBar } from './progress.js';

/** A choice's timings as one line: each candidate and its median ms per call. */
export function formatTimings(ms: Readonly<Record<string, number>>): string {
  return Object.entries(ms).map(([v, t]) => `${v} ${t.toFixed(3)}`).join(', ');
}

/** Tunes the keys of each (batch, kind) step of `config` not cached yet, with a progress bar; says what it did. */
export async function tuneSteps(config: ModelConfig, steps: readonly { batch: number; kind: StepKind }[]): Promise<TuneResult[]> {
  if (tuneMode() !== 'on') return [];
  const results: TuneResult[] = [];
  for (const { batch, kind } of steps) {
    const bar = progressBar(`tune ${config.name} ${kind} batch ${batch}`);
    const start = performance.now();
    const tuned = await tuneModel(config, batch, kind, (p) => bar.update(p.done, p.total, p.key));
    bar.stop();
    if (tuned.length > 0) {
      const changed = tuned.filter((r) => r.variant !== r.rule).length;
      console.error(
        `tokenwave: tuned ${tuned.length} kernel shapes of ${config.name} (${kind}, batch ${batch}) in ${((performance.now() - start) / 1000).toFixed(1)} s: ` +
          `${changed} differ from the rules; cached for this adapter (TOKENWAVE_TUNE=cached or off to skip)`,
      );
    }
    results.push(...tuned);
  }
  return results;
}

interface TuneOptions {
  batch?: string;
  train?: boolean;
  backend?: string;
  json?: boolean;
}

async function tune(models: string[], o: TuneOptions): Promise<void> {
  const configs = (models.length > 0 ? models : ['TASR_4L_8T-8H', 'TASR_4L_NT-8H']).map((name) => modelConfig(name));
  const batchOption = integerOption('batch', o.batch);
  await init({ backend: o.backend });
  try {
    if (tuneMode() !== 'on') console.error(`tokenwave: TOKENWAVE_TUNE=${tuneMode()}: nothing is measured (unset it or set it to on)`);
    const all: (TuneResult & { model: string })[] = [];
    for (const config of configs) {
      const batch = batchOption ?? protocolOf(config).batchSize;
      const steps = [{ batch, kind: 'inference' as const }, ...(o.train ? [{ batch, kind: 'training' as const }] : [])];
      for (const r of await tuneSteps(config, steps)) all.push({ model: config.name, ...r });
    }
    if (o.json) {
      console.log(JSON.stringify(all, null, 2));
      return;
    }
    if (all.length === 0) {
      console.log('every kernel shape of these models is tuned already for this adapter (tokenwave doctor lists them)');
      return;
    }
    for (const r of all) {
      const gain = r.variant === r.rule ? 'the rule' : `${(r.ms[r.rule]! / r.ms[r.variant]!).toFixed(2)}x the rule (${r.rule})`;
      console.log(`${r.key}: ${r.variant}, ${gain}; ms per call: ${formatTimings(r.ms)}${r.recheck ? `; re-timed beside the rule: ${formatTimings(r.recheck)}` : ''}`);
    }
  } finally {
    shutdown();
  }
}

export const tuneCommand = new Command('tune')
  .description("time the kernel variants of models' shapes on this adapter and cache the fastest (~/.cache/tokenwave/tune.json)")
  .argument('[model...]', 'model names (default: TASR_4L_8T-8H TASR_4L_NT-8H)')
  .option('--batch <n>', "batch size (default: the model family's paper batch size)")
  .option('--train', 'also tune the training step (backward passes, optimizer), not only inference')
  .option('--json', 'print what was tuned as JSON')
  .addOption(backendOption())
  .action(async (models: string[], o: TuneOptions) => tune(models, o));
