// Node only: picks a WebGPU adapter through Dawn's Node bindings: a hardware adapter when one exists, otherwise Dawn's
// OpenGL ES backend on Mesa's llvmpipe in compatibility mode. Dawn's null backend is always refused: its kernels
// silently do nothing.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { readCache, updateCache } from '../util/cache.js';
import { describeAdapter, isSoftwareAdapter, NoAdapterError, type AdapterChoice } from './adapter-info.js';

export const BACKENDS = ['auto', 'vulkan', 'opengles', 'opengl', 'metal', 'd3d12', 'd3d11', 'null'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** Debian/Ubuntu packages that give Dawn a software OpenGL ES adapter (Mesa llvmpipe). */
const MESA_PACKAGES = 'libegl1 libegl-mesa0 libgles2 libgl1-mesa-dri';

const INSTALL_HINT =
  `to run without a GPU on Debian/Ubuntu, install Mesa's software renderer: sudo apt-get install -y ${MESA_PACKAGES} ` +
  `(Debian 12: from bookworm-backports, with mesa-vulkan-drivers for Vulkan too; see the README); ` +
  `for a GPU, install its driver and the Vulkan loader (libvulkan1)`;

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

/** Folders where the Vulkan loader looks for driver (ICD) manifests on Linux, or the files the environment names. */
function vulkanDriverManifests(): string[] {
  const env = process.env;
  const listed = (env.VK_DRIVER_FILES || env.VK_ICD_FILENAMES || '').split(':').filter(Boolean);
  const extra = (env.VK_ADD_DRIVER_FILES || '').split(':').filter(Boolean);
  const home = homedir();
  const dirs = listed.length > 0
    ? listed
    : [
        join(env.XDG_CONFIG_HOME || join(home, '.config'), 'vulkan/icd.d'),
        ...(env.XDG_CONFIG_DIRS || '/etc/xdg').split(':').map((d) => join(d, 'vulkan/icd.d')),
        '/etc/vulkan/icd.d',
        '/usr/local/etc/vulkan/icd.d',
        join(env.XDG_DATA_HOME || join(home, '.local/share'), 'vulkan/icd.d'),
        ...(env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':').map((d) => join(d, 'vulkan/icd.d')),
      ];
  const manifests: string[] = [];
  for (const entry of [...dirs, ...extra]) {
    try {
      if (statSync(entry).isDirectory()) manifests.push(...readdirSync(entry).filter((f) => f.endsWith('.json')).map((f) => join(entry, f)));
      else manifests.push(entry);
    } catch {
      // a folder that does not exist holds no drivers
    }
  }
  return manifests;
}

const PROBE_SCRIPT = `
const { create, globals } = await import(process.argv[1]);
Object.assign(globalThis, globals);
const adapter = await create(['backend=vulkan']).requestAdapter({ powerPreference: 'high-performance' });
console.log(JSON.stringify(adapter ? { ok: true, device: adapter.info.device || adapter.info.description } : { ok: false }));
process.exit(0);
`;

interface VulkanVerdict {
  ok: boolean;
  reason: string;
}

const VULKAN_PROBE_CACHE = 'vulkan-probe.json';

/**
 * Whether Dawn's Vulkan backend finds an adapter, asked in a child process so that Dawn's multi-line native
 * errors about a broken or unsuitable driver never reach the user's terminal. The verdict is cached (in
 * ~/.cache/tokenwave) for the installed drivers, so only the first command after a driver change pays for it.
 */
async function probeVulkan(manifests: string[]): Promise<VulkanVerdict> {
  const require = createRequire(import.meta.url);
  const webgpu = require.resolve('webgpu');
  const key = JSON.stringify([
    webgpu,
    manifests.map((m) => {
      const st = existsSync(m) ? statSync(m) : undefined;
      return [m, st?.size, st?.mtimeMs];
    }),
    ['VK_DRIVER_FILES', 'VK_ICD_FILENAMES', 'VK_ADD_DRIVER_FILES', 'LD_LIBRARY_PATH'].map((k) => process.env[k] ?? ''),
  ]);
  const known = (await readCache<VulkanVerdict>(VULKAN_PROBE_CACHE))[key];
  if (known) return known;
  const verdict = await new Promise<VulkanVerdict>((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', PROBE_SCRIPT, webgpu], { timeout: 30_000 }, (error, stdout, stderr) => {
      try {
        const result = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { ok: boolean; device?: string };
        if (result.ok) return resolve({ ok: true, reason: result.device ?? '' });
      } catch {
        // no verdict printed: the probe crashed
      }
      const dawn = stderr.split('\n').find((line) => /vk|vulkan|driver/i.test(line) && !/artificially reduced/.test(line));
      resolve({ ok: false, reason: (dawn ?? error?.message ?? 'no adapter').replace(/^Warning:\s*/, '').trim() });
    });
  });
  await updateCache(VULKAN_PROBE_CACHE, key, verdict); // silent: an unwritable cache only costs the probe next time
  return verdict;
}

/** Whether automatic selection should try Vulkan in this process; says why not in `attempts`. */
async function vulkanUsable(attempts: string[]): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  if (vulkanLoaderMissing()) {
    attempts.push('vulkan: skipped (no libvulkan.so.1 on this system)');
    return false;
  }
  const manifests = vulkanDriverManifests();
  if (manifests.length === 0) {
    attempts.push('vulkan: skipped (the Vulkan loader is installed, but no Vulkan driver is)');
    return false;
  }
  const verdict = await probeVulkan(manifests);
  if (!verdict.ok) attempts.push(`vulkan: skipped (no usable driver: ${verdict.reason})`);
  return verdict.ok;
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
    throw new NoAdapterError(`no WebGPU adapter for the requested backend '${backend}' (tried ${attempts.join('; ')}); ${INSTALL_HINT}`);
  }

  let native: AdapterChoice | undefined;
  if (await vulkanUsable(attempts)) native = await tryBackend('auto', 'core', attempts);
  if (native && !native.software) return native;
  const fallback = await tryBackend('opengles', 'compatibility', attempts);
  if (fallback) return fallback;
  if (native) return native;
  throw new NoAdapterError(`no usable WebGPU adapter (tried ${attempts.join('; ')}); ${INSTALL_HINT}`);
}
