// The installed tokenwave's version (package.json), for caches keyed by it and for sweep workers that check it.
import packageJson from '../../package.json' with { type: 'json' };

export const TOKENWAVE_VERSION: string = packageJson.version;
