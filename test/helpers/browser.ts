// The page in a real browser for the tests: built by Vite into a temporary folder (the same static files
// `npm run web:build` writes), served on 127.0.0.1, driven by Playwright in Debian's headless Chromium on its
// built-in SwiftShader. No browser is ever downloaded.
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';

export const CHROMIUM = process.env.TOKENWAVE_CHROMIUM || '/usr/bin/chromium';
/** Screenshots of each view, kept for people to look at (CI keeps the folder as an artifact). */
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'browser');

/** Whether the browser tests can run here; with TOKENWAVE_BROWSER_TESTS=require (as .ci/run sets) a missing
 * Chromium fails them instead of skipping. */
export function browserAvailable(): boolean {
  if (existsSync(CHROMIUM)) return true;
  if (process.env.TOKENWAVE_BROWSER_TESTS === 'require') throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium package (sudo apt-get install chromium) or set TOKENWAVE_CHROMIUM`);
  console.warn(`browser tests skipped: no Chromium at ${CHROMIUM} (install Debian's chromium package to run them)`);
  return false;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.json': 'application/json' };

export async function buildPage(outDir: string): Promise<void> {
  await build({ configFile: join(import.meta.dirname, '..', '..', 'web', 'vite.config.ts'), build: { outDir, emptyOutDir: true }, logLevel: 'warn' });
}

/** Serves `root` on 127.0.0.1 (a free port). */
export async function serve(root: string): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const path = normalize(join(root, decodeURIComponent(new URL(request.url ?? '/', 'http://page').pathname)));
    const file = path.endsWith('/') ? join(path, 'index.html') : path;
    if (!file.startsWith(root)) return void response.writeHead(403).end();
    readFile(file).then(
      (body) => response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

/** Headless Chromium with WebGPU (SwiftShader here), quiet on a closed network; `fakeAudio` plays a WAV file as the microphone, looped. */
export async function launchChromium(fakeAudio?: string): Promise<Browser> {
  const args = ['--no-sandbox', '--enable-unsafe-webgpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];
  if (fakeAudio) args.push('--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${fakeAudio}`);
  return chromium.launch({ executablePath: CHROMIUM, args });
}

/** Opens the page and waits for its engine; what the page logs as errors is collected in `errors`. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(url);
  await page.evaluate(() => (globalThis as unknown as { tokenwavePage: { ready: Promise<void> } }).tokenwavePage.ready);
  return { page, errors };
}

export async function screenshot(page: Page, name: string, selector?: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  if (selector) await page.locator(selector).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
  return path;
}
