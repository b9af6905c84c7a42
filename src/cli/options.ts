// What every command shares: the user-error type, one parser for numeric options, --backend, --model-options.
import { Option } from 'commander';
import type { ModelOptions } from '../models/config.js';
import { BACKENDS } from '../runtime/adapter.js';
import { TokenwaveError } from '../util/errors.js';

/** A command-line mistake: printed as one line, exit code 1. */
export class UsageError extends TokenwaveError {
  override name = 'UsageError';
}

export interface NumberRule {
  integer?: boolean;
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Values must be strictly greater than this. */
  above?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
}

function describeRule(r: NumberRule): string {
  const bounds = [r.min !== undefined ? `>= ${r.min}` : '', r.above !== undefined ? `> ${r.above}` : '', r.max !== undefined ? `<= ${r.max}` : '']
    .filter(Boolean)
    .join(' and ');
  return `${r.integer ? 'an integer' : 'a finite number'}${bounds ? ` ${bounds}` : ''}`;
}

/** Parses a numeric option (undefined stays undefined); anything non-finite or out of range is a UsageError. */
export function numberOption(name: string, value: string | undefined, rule: NumberRule = {}): number | undefined {
  if (value === undefined) return undefined;
  const n = value.trim() === '' ? NaN : Number(value);
  const ok =
    Number.isFinite(n) &&
    (!rule.integer || Number.isInteger(n)) &&
    (rule.min === undefined || n >= rule.min) &&
    (rule.above === undefined || n > rule.above) &&
    (rule.max === undefined || n <= rule.max);
  if (!ok) throw new UsageError(`--${name} must be ${describeRule(rule)}, got '${value}'`);
  return n;
}

/** An integer option, at least `min` (default 1) and at most `max`. */
export function integerOption(name: string, value: string | undefined, min = 1, max?: number): number | undefined {
  return numberOption(name, value, { integer: true, min, max });
}

export function backendOption(): Option {
  // Dawn's null backend computes nothing: the engine refuses it, so the command line does not offer it.
  return new Option('--backend <name>', 'force a WebGPU backend (default: TOKENWAVE_BACKEND, else automatic)').choices(BACKENDS.filter((b) => b !== 'null'));
}

/** --model-options: a JSON object of model options beyond the name (e.g. '{"width": 64}'). */
export function parseModelOptions(text: string | undefined): ModelOptions {
  if (!text) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UsageError(`--model-options must be a JSON object, e.g. '{"tokenLearnerVersion": "v1.1"}'; got '${text}'`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError(`--model-options must be a JSON object, got '${text}'`);
  return value as ModelOptions;
}
