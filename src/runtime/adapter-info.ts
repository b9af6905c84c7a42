// What the runtime knows of the adapter it was given, on any platform: the choice, its description, whether it
// is a software renderer (which decides the kernel variants), and the error when there is none.
import { TokenwaveError } from '../util/errors.js';

export interface AdapterChoice {
  gpu: GPU;
  adapter: GPUAdapter;
  backend: string;
  featureLevel: 'core' | 'compatibility';
  software: boolean;
  /** Every attempt made, in order, with its outcome: shown by `doctor` and in errors. */
  attempts: string[];
}

export class NoAdapterError extends TokenwaveError {
  override name = 'NoAdapterError';
}

export function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const name = [info.vendor, info.device || info.architecture].filter(Boolean).join(' ');
  return [name || 'unknown device', info.description].filter(Boolean).join(' - ');
}

/** What the adapter says of itself, for the checks below. */
function adapterText(adapter: GPUAdapter): string {
  const info = adapter.info;
  return `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
}

export function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  return adapter.info.isFallbackAdapter || /llvmpipe|lavapipe|softpipe|swiftshader|software/i.test(adapterText(adapter));
}

/** Mesa's llvmpipe, through OpenGL ES or as lavapipe through Vulkan (both name their device llvmpipe). */
export function isLlvmpipe(adapter: GPUAdapter): boolean {
  return /llvmpipe/i.test(adapterText(adapter));
}

