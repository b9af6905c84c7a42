// PyTorch on the CPU, and on a CUDA GPU where its torch has one, as a peer (bench/torch_model.py: the same layers
// and parameter count), run in a Python process of its own. Found where `python3 -c 'import torch'` works
// (TOKENWAVE_PYTHON, else python3 on the PATH, else /usr/bin/python3: Debian's python3-torch lives there even when
// another python3 comes first).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { modelConfig } from '../src/models/config.js';
import type { Measured, Workload } from './models.js';

const SCRIPT = fileURLToPath(new URL('./torch_model.py', import.meta.url));

/** The Python that imports torch and whether that torch sees a CUDA GPU, or the reason when no Python imports torch. */
export function findTorch(): { python: string; cuda: boolean } | { missing: string } {
  const candidates = [process.env.TOKENWAVE_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import torch; print(torch.cuda.is_available())'], { encoding: 'utf8' });
    if (probe.status === 0) return { python, cuda: probe.stdout.trim().endsWith('True') };
  }
  return { missing: `no Python here imports torch (tried ${candidates.join(', ')}); on Debian: apt install python3-torch libopenblas0-pthread` };
}

export interface TorchMeasured extends Measured {
  /** Whether channels-last was the faster memory format (the script times both and keeps the faster). */
  channelsLast: boolean;
  threads: number;
  torch: string;
  blas: string;
  /** 'cpu', or the CUDA GPU's name. */
  device: string;
}

/**
 * The workload in PyTorch at its best on `device`: one warm-up step, then the median of `runs`, in both memory
 * formats (the faster kept: channels-last wins the large batches' convolutions on the CPU, the default one batch 1).
 * OpenBLAS gets one thread of its own: PyTorch already runs its OpenMP threads on every core, and OpenBLAS's own
 * threads on top of them made batch-1 inference 5x slower here (16 ms against 3.4 ms a clip).
 */
export function torchModel(python: string, w: Workload, runs: number, device: 'cpu' | 'cuda' = 'cpu'): TorchMeasured {
  const job = JSON.stringify({ config: modelConfig(w.model), mode: w.mode, batch: w.batch, runs, device });
  const run = spawnSync(python, [SCRIPT], { input: job, encoding: 'utf8', env: { ...process.env, OPENBLAS_NUM_THREADS: '1' }, maxBuffer: 1 << 20 });
  if (run.status !== 0) throw new Error(`bench/torch_model.py failed (${run.status}): ${(run.stderr || run.stdout).trim().split('\n').at(-1)}`);
  return JSON.parse(run.stdout.trim().split('\n').at(-1)!) as TorchMeasured;
}
