// The Chrome trace event format (JSON; opens in Perfetto and chrome://tracing): one complete event per dispatch,
// with its kernel, op, module path, phase, workgroups, FLOPs and bytes as arguments, on one track per phase.
import { exactFlops } from '../tensor/counts.js';
import type { ProfiledRecord } from '../tensor/engine.js';
import type { Phase } from '../tensor/ledger.js';

export interface TracedStep {
  records: readonly ProfiledRecord[];
  wallMs: number;
}

const TRACKS: Phase[] = ['forward', 'backward', 'optimizer'];

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts?: number;
  dur?: number;
  cat?: string;
  args?: Record<string, unknown>;
}

/** Steps one after another (each from its own start), in microseconds as the format wants. */
export function chromeTrace(steps: readonly TracedStep[], title: string): { traceEvents: TraceEvent[]; displayTimeUnit: 'ms'; otherData: Record<string, string> } {
  const events: TraceEvent[] = [{ name: 'process_name', ph: 'M', pid: 1, tid: 0, args: { name: title } }];
  TRACKS.forEach((phase, i) => events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: i + 1, args: { name: phase } }));
  events.push({ name: 'thread_name', ph: 'M', pid: 1, tid: TRACKS.length + 1, args: { name: 'steps (wall time)' } });
  let origin = 0;
  steps.forEach((step, s) => {
    const kernelEnd = Math.max(0, ...step.records.map((r) => r.startMs + r.ms));
    events.push({ name: `step ${s + 1}`, ph: 'X', pid: 1, tid: TRACKS.length + 1, ts: origin * 1000, dur: step.wallMs * 1000, cat: 'step', args: { wallMs: step.wallMs } });
    for (const r of step.records) {
      events.push({
        name: r.kernel,
        cat: r.phase,
        ph: 'X',
        pid: 1,
        tid: TRACKS.indexOf(r.phase) + 1,
        ts: (origin + r.startMs) * 1000,
        dur: r.ms * 1000,
        args: {
          op: r.op,
          module: r.path || '(model)',
          phase: r.phase,
          step: s + 1,
          dispatch: r.dispatch,
          workgroups: r.workgroups,
          shape: r.shape,
          flops: exactFlops(r.counts),
          bytesRead: r.counts.bytesRead,
          bytesWritten: r.counts.bytesWritten,
        },
      });
    }
    origin += Math.max(step.wallMs, kernelEnd) + 1;
  });
  return { traceEvents: events, displayTimeUnit: 'ms', otherData: { generator: 'tokenwave profile' } };
}
