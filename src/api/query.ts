import { InputError } from '../errors.js';

/** Query strings arrive as text; parse them here so bodies can be validated without type coercion. */
export function intParam(query: unknown, name: string, fallback: number, min = 0, max = 1_000_000): number {
  const raw = (query as Record<string, unknown> | undefined)?.[name];
  if (raw === undefined || raw === '') return fallback;
  const v = typeof raw === 'string' && /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    // Query values are strings, or arrays of them when repeated (which String joins with commas).
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- never a plain object here
    throw new InputError(`The query parameter ${name}="${String(raw)}" must be a whole number from ${min} to ${max}.`);
  }
  return v;
}

export function stringParam(query: unknown, name: string): string | undefined {
  const raw = (query as Record<string, unknown> | undefined)?.[name];
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw new InputError(`The query parameter ${name} was given more than once; give it once.`);
  return raw;
}

export function boolParam(query: unknown, name: string, fallback: boolean): boolean {
  const raw = stringParam(query, name);
  if (raw === undefined) return fallback;
  if (raw === 'true' || raw === 'True') return true;
  if (raw === 'false' || raw === 'False') return false;
  throw new InputError(`The query parameter ${name}="${raw}" must be true or false.`);
}

export function listParam(query: unknown, name: string): string[] {
  const raw = (query as Record<string, unknown> | undefined)?.[name];
  if (raw === undefined || raw === '') return [];
  const parts = (Array.isArray(raw) ? raw : [raw]).flatMap((x) => String(x).split(','));
  return parts.map((s) => s.trim()).filter(Boolean);
}
