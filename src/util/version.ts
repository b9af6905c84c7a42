// The installed tokenwave's version (package.json), for caches keyed by it and for sweep workers that check it.
import { createRequire } from 'node:module';

export const TOKENWAVE_VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
