// TensorFlow.js's WebGPU backend, registered by hand on a device from the same Dawn adapter that tokenwave uses
// (its own registration only runs in browsers). Peers live in bench/ only.
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { chooseAdapter } from '../src/runtime/adapter.js';
import { randomMatrix, timeRepeated, type MatmulShape } from './matmul.js';

export async function useTfjsWebgpu(): Promise<string> {
  const choice = await chooseAdapter();
  const limits = choice.adapter.limits;
  const device = await choice.adapter.requestDevice({
    requiredLimits: {
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    },
  });
  // TF.js only believes in WebGPU inside a browser window or worker with navigator.gpu: give it both.
  const g = globalThis as Record<string, unknown>;
  g.WorkerGlobalScope ??= class WorkerGlobalScope {};
  if (!(g.navigator as { gpu?: GPU } | undefined)?.gpu) {
    Object.defineProperty(globalThis, 'navigator', { value: { ...(g.navigator as object), gpu: choice.gpu }, configurable: true });
  }
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, choice.adapter.info));
  await tf.setBackend('webgpu');
  await tf.ready();
  return `TensorFlow.js ${tf.version_core} WebGPU`;
}

export async function tfjsMatmul(s: MatmulShape): Promise<number> {
  const a = tf.tensor2d(randomMatrix(s.M, s.K, 1), [s.M, s.K]);
  const b = tf.tensor2d(randomMatrix(s.K, s.N, 2), [s.K, s.N]);
  let last: tf.Tensor | undefined;
  const seconds = await timeRepeated(
    () => {
      last?.dispose();
      last = tf.matMul(a, b);
    },
    async () => {
      await last!.data();
    },
  );
  last?.dispose();
  a.dispose();
  b.dispose();
  return (2 * s.M * s.N * s.K) / seconds / 1e9;
}

/** TensorFlow.js's WASM backend (XNNPACK, SIMD; one thread in Node), for the CPU-side comparison. */
export async function useTfjsWasm(): Promise<string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  await tf.setBackend('wasm');
  await tf.ready();
  return `TensorFlow.js ${tf.version_core} WASM (${wasm.getThreadsCount()} thread${wasm.getThreadsCount() === 1 ? '' : 's'})`;
}

/** Back to the WebGPU backend registered by useTfjsWebgpu. */
export async function useRegisteredTfjsWebgpu(): Promise<void> {
  await tf.setBackend('webgpu');
  await tf.ready();
}
