// Picks a WebGPU adapter through Dawn's Node bindings: a hardware adapter when one exists, otherwise Dawn's
// OpenGL ES backend on Mesa's llvmpipe in compatibility mode. Dawn's null backend is always refused: its kernels
// silently do nothing.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { TokenwaveError } from '../util/errors.js';

export const BACKENDS = ['auto', 'vulkan', 'opengles', 'opengl', 'metal', 'd3d12', 'd3d11', 'null'] as const;
export type BackendName = (typeof BACKENDS)[number];

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

/** Debian/Ubuntu packages that give Dawn a software OpenGL ES adapter (Mesa llvmpipe). */
const MESA_PACKAGES = 'libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri';

const INSTALL_HINT =
  `To run without a GPU on Debian/Ubuntu, install Mesa's EGL/GLES software renderer:\n` +
  `    sudo apt-get install -y ${MESA_PACKAGES}\n` +
  `For a GPU, install its driver and the Vulkan loader (libvulkan1 on Debian/Ubuntu).`;

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

let dawn: DawnModule | undefined;
// Dawn's GPU objects must stay referenced for the life of the process.
const liveInstances: GPU[] = [];

function loadDawn(): DawnModule {
  if (dawn) return dawn;
  const require = createRequire(import.meta.url);
  try {
    dawn = require('webgpu') as DawnModule;
  } catch (err) {
    throw new NoAdapterError(
      `Could not load Dawn's Node bindings (npm package 'webgpu'): ${(err as Error).message}\n` +
        `Run 'npm ci' in the tokenwave folder. ${INSTALL_HINT}`,
    );
  }
  Object.assign(globalThis, dawn.globals);
  return dawn;
}

function instance(backend: string): GPU {
  if (backend === 'opengles' || backend === 'opengl') {
    // Mesa's EGL needs no display server when asked for a surfaceless platform; it must be set before create().
    process.env.EGL_PLATFORM ??= 'surfaceless';
  }
  const options = ['disable-dawn-features=timestamp_quantization'];
  if (backend !== 'auto') options.push(`backend=${backend}`);
  const gpu = loadDawn().create(options);
  liveInstances.push(gpu);
  return gpu;
}

export function describeAdapter(adapter: GPUAdapter): string {
  const info = adapter.info;
  const name = [info.vendor, info.device || info.architecture].filter(Boolean).join(' ');
  return [name || 'unknown device', info.description].filter(Boolean).join(' - ');
}

function isSoftwareAdapter(adapter: GPUAdapter): boolean {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`;
  return info.isFallbackAdapter || /llvmpipe|lavapipe|softpipe|swiftshader|software/i.test(text);
}

function isNullAdapter(adapter: GPUAdapter): boolean {
  return /null-backend/i.test(adapter.info.device) || adapter.info.description === 'null';
}

async function tryBackend(
  backend: string,
  featureLevel: 'core' | 'compatibility',
  attempts: string[],
): Promise<AdapterChoice | undefined> {
  const label = `${backend} (${featureLevel})`;
  let adapter: GPUAdapter | null = null;
  let gpu: GPU;
  try {
    gpu = instance(backend);
    adapter = await gpu.requestAdapter({
      powerPreference: 'high-performance',
      ...(featureLevel === 'compatibility' ? { featureLevel: 'compatibility' } : {}),
    } as GPURequestAdapterOptions);
  } catch (err) {
    attempts.push(`${label}: failed: ${(err as Error).message}`);
    return undefined;
  }
  if (!adapter) {
    attempts.push(`${label}: no adapter`);
    return undefined;
  }
  if (isNullAdapter(adapter)) {
    attempts.push(`${label}: refused Dawn's null backend (it runs no kernels)`);
    return undefined;
  }
  const software = isSoftwareAdapter(adapter);
  attempts.push(`${label}: ${describeAdapter(adapter)}${software ? ' [software]' : ''}`);
  return { gpu, adapter, backend, featureLevel, software, attempts };
}

/** The backend asked for by `--backend` or TOKENWAVE_BACKEND, validated. */
export function requestedBackend(explicit?: string): BackendName {
  const name = (explicit ?? (process.env.TOKENWAVE_BACKEND || 'auto')).toLowerCase();
  if (!(BACKENDS as readonly string[]).includes(name)) {
    throw new NoAdapterError(`Unknown backend '${name}'. Valid backends: ${BACKENDS.join(', ')}.`);
  }
  return name as BackendName;
}

/** Linux without the Vulkan loader: Dawn's Vulkan backend cannot start, so auto mode does not try it (and
 * Dawn does not print its warning about the missing library). */
function vulkanLoaderMissing(): boolean {
  if (process.platform !== 'linux') return false;
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), '/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/usr/local/lib'];
  return !dirs.some((dir) => dir && existsSync(join(dir, 'libvulkan.so.1')));
}

export async function chooseAdapter(explicit?: string): Promise<AdapterChoice> {
  const backend = requestedBackend(explicit);
  const attempts: string[] = [];
  if (backend === 'null') {
    throw new NoAdapterError(
      `The 'null' backend was requested, but Dawn's null backend runs no kernels (every result would be ` +
        `garbage), so tokenwave refuses it. Choose another backend: ${BACKENDS.filter((b) => b !== 'null').join(', ')}.`,
    );
  }
  if (backend !== 'auto') {
    const level = backend === 'opengles' || backend === 'opengl' ? 'compatibility' : 'core';
    const forced = await tryBackend(backend, level, attempts);
    if (forced) return forced;
    throw new NoAdapterError(
      `No WebGPU adapter for the requested backend '${backend}'.\nTried: ${attempts.join('; ')}\n${INSTALL_HINT}`,
    );
  }

  let native: AdapterChoice | undefined;
  if (vulkanLoaderMissing()) attempts.push('vulkan: skipped (no libvulkan.so.1 on this system)');
  else native = await tryBackend('auto', 'core', attempts);
  if (native && !native.software) return native;
  const fallback = await tryBackend('opengles', 'compatibility', attempts);
  if (fallback) return fallback;
  if (native) return native;
  throw new NoAdapterError(
    `No usable WebGPU adapter found.\nTried:\n  ${attempts.join('\n  ')}\n${INSTALL_HINT}`,
  );
}
