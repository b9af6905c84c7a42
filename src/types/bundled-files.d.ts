// Vite's build-time file import (browser-platform.ts bundles shaders/*.wgsl with it).
interface ImportMeta {
  glob<T>(pattern: string, options: { query: string; import: string; eager: true }): Record<string, T>;
}
