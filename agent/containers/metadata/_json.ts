/**
 * Defensive accessors over parsed JSON: runtime files are read as `unknown` and every field is
 * checked before use, so a wrong type is a missing field rather than a crash.
 *
 * @module
 */

import { MetadataParseError } from "./types.ts";

/** A plain JSON object. */
export type JsonObject = { [key: string]: unknown };

/** Parses JSON text or throws a {@linkcode MetadataParseError} naming the format. */
export function parseJson(text: string, format: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new MetadataParseError(format, reason, { cause: e });
  }
}

/** Parses JSON text whose top level must be an object. */
export function parseJsonObject(text: string, format: string): JsonObject {
  const v = parseJson(text, format);
  if (!isObject(v)) throw new MetadataParseError(format, `top level is ${kind(v)}, not an object`);
  return v;
}

/** Names a JSON value's kind for messages. */
export function kind(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return `a ${typeof v}`;
}

/** True for a JSON object (not an array, not null). */
export function isObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The object at `v`, or undefined. */
export function obj(v: unknown): JsonObject | undefined {
  return isObject(v) ? v : undefined;
}

/** A non-empty string, or undefined. */
export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** A finite number, or undefined. */
export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** The string items of an array; anything else gives []. */
export function strList(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  const out: string[] = [];
  for (const item of v) if (typeof item === "string") out.push(item);
  return out;
}

/**
 * Sets a key on a record as an own data property: a key such as "__proto__" (legal in a label)
 * must not reach the prototype setter.
 */
export function setKey(rec: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
}

/** The string-valued entries of an object; other values are dropped. */
export function strMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!isObject(v)) return out;
  for (const [k, val] of Object.entries(v)) if (typeof val === "string") setKey(out, k, val);
  return out;
}

/** Splits "K=V" entries at the first "="; entries without "=" map to "". Later entries win. */
export function parseEnvList(list: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const entry of list) {
    const eq = entry.indexOf("=");
    if (eq === 0) continue;
    if (eq < 0) setKey(out, entry, "");
    else setKey(out, entry.slice(0, eq), entry.slice(eq + 1));
  }
  return out;
}
