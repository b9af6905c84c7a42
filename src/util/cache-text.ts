// The per-machine caches' one format, wherever they are kept (files in Node, localStorage in a page): a JSON
// object of entries by key. Anything else reads as an empty cache, to be measured again.
export function parseCache<T>(text: string): Record<string, T> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, T>) : {};
  } catch {
    return {};
  }
}
