// The page: `npm run web` serves it on localhost, `npm run web:build` writes it to web/dist as static files
// (relative addresses, no CDN: it works offline from any folder a server serves).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const root = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root,
  base: './',
  // the engine's source and shaders/ live beside web/
  server: { fs: { allow: [fileURLToPath(new URL('..', import.meta.url))] }, host: '127.0.0.1', port: 5173 },
  preview: { host: '127.0.0.1', port: 4173 },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', chunkSizeWarningLimit: 2048 },
  clearScreen: false,
});
