/**
 * One jest run's cache of synthesized stacks, shared by every test file and worker: a stack is
 * synthesized once per configuration per run, and every test that asks for it again reads the JSON.
 * The global setup names the run's directory in TRAINIUM_SPOT_SYNTH_CACHE; without it (a test file
 * run by other means) the cache lives in this test file only.
 *
 * Entries are keyed by the input's JSON text, and only inputs that JSON states exactly (plain
 * objects, arrays, strings, finite numbers, booleans, null; no undefined) are cached, so two inputs
 * that would parse differently never share an entry. A failed synthesis is never cached.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeAtomically } from './files';

export const SYNTH_CACHE_ENV = 'TRAINIUM_SPOT_SYNTH_CACHE';
/** Set by the global setup when it opened the cache itself (and the teardown removes it). */
export const SYNTH_CACHE_OWNED_ENV = 'TRAINIUM_SPOT_SYNTH_CACHE_OWNED';

const inThisFile = new Map<string, string>();

/** The text `synthesize()` returns for `input`, from the cache when this run has made it before. */
export function cachedSynth(input: unknown, synthesize: () => string): string {
  const key = exactJson(input);
  if (key === undefined) return synthesize();
  const known = inThisFile.get(key) ?? readShared(key);
  if (known !== undefined) {
    inThisFile.set(key, known);
    return known;
  }
  const text = synthesize();
  inThisFile.set(key, text);
  writeShared(key, text);
  return text;
}

/** JSON.stringify(value) when JSON states the value exactly, else undefined. */
export function exactJson(value: unknown): string | undefined {
  return isExactJson(value) ? JSON.stringify(value) : undefined;
}

function isExactJson(value: unknown): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isExactJson);
  if (typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return (prototype === Object.prototype || prototype === null) && Object.values(value as object).every(isExactJson);
}

/** The entry's file: the key's hash names it, and its first line holds the key itself, checked on read. */
function sharedFile(key: string): string | undefined {
  const dir = process.env[SYNTH_CACHE_ENV];
  return dir ? path.join(dir, `${createHash('sha256').update(key).digest('hex')}.json`) : undefined;
}

function readShared(key: string): string | undefined {
  const file = sharedFile(key);
  if (!file || !fs.existsSync(file)) return undefined;
  const content = fs.readFileSync(file, 'utf8');
  const firstLineEnd = content.indexOf('\n');
  return content.slice(0, firstLineEnd) === key ? content.slice(firstLineEnd + 1) : undefined;
}

/** Written whole, so a reader in another worker never sees half an entry. */
function writeShared(key: string, text: string): void {
  const file = sharedFile(key);
  if (file) writeAtomically(file, `${key}\n${text}`);
}
