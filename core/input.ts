/**
 * Bounds on what a client may send, shared by every request schema: the longest decimal text,
 * the longest identifier and free text, and the characters no stored text may hold.
 *
 * PostgreSQL refuses the NUL character (U+0000) in `text` and `jsonb`, so a NUL anywhere in a
 * request would otherwise surface as a 500 from the database. {@link nulIssues} walks a parsed
 * request (keys and values) and names every string that holds one; the HTTP layer refuses such a
 * request with a 400 before any schema, parse or SQL. Identifiers (symbols, client order ids,
 * names) also refuse the other C0 control characters and DEL ({@link identifierText}); free text
 * (a halt reason) keeps tabs and line breaks ({@link freeText}).
 *
 * Long input is refused before it is parsed: a decimal is at most {@link MAX_DECIMAL_CHARS}
 * characters ({@link decimalTextIssue}), so "1" followed by a million zeros costs a length
 * check, not a bigint parse.
 *
 * @module
 */
import { z } from "zod";
import type { FieldIssue } from "./errors.ts";

/** The longest decimal text (a price, quantity, amount or percentage) a request may carry. */
export const MAX_DECIMAL_CHARS = 32;

/** The most issues {@link nulIssues} reports (the walk stops there). */
const MAX_REPORTED = 10;

// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
// deno-lint-ignore no-control-regex
const CONTROL_EXCEPT_SPACING = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** `U+0000` style name of a character. */
function codePoint(ch: string): string {
  return `U+${ch.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** The message for text holding a forbidden character at `index`. */
function controlMessage(text: string, index: number): string {
  return `Must not contain control characters: found ${codePoint(text[index]!)} at position ${
    index + 1
  }`;
}

/**
 * Every string (object key or value, at any depth) in `value` that holds a NUL character, as
 * field paths and messages; at most 10. `path` prefixes the paths (e.g. `["query"]`). An array
 * index shows as its number. Never throws; a cycle cannot occur in parsed JSON.
 */
export function nulIssues(value: unknown, path: readonly PropertyKey[] = []): FieldIssue[] {
  const out: FieldIssue[] = [];
  const walk = (v: unknown, at: PropertyKey[]): void => {
    if (out.length >= MAX_REPORTED) return;
    if (typeof v === "string") {
      const i = v.indexOf("\u0000");
      if (i >= 0) {
        out.push({ path: at.map(String).join(".") || "(root)", message: controlMessage(v, i) });
      }
      return;
    }
    if (typeof v !== "object" || v === null) return;
    if (Array.isArray(v)) {
      v.forEach((item, i) => walk(item, [...at, i]));
      return;
    }
    for (const [k, item] of Object.entries(v)) {
      const i = k.indexOf("\u0000");
      if (i >= 0 && out.length < MAX_REPORTED) {
        out.push({
          path: [...at, JSON.stringify(k).slice(1, -1)].map(String).join("."),
          message: `Key ${controlMessage(k, i).charAt(0).toLowerCase()}${
            controlMessage(k, i).slice(1)
          }`,
        });
      }
      walk(item, [...at, k]);
    }
  };
  walk(value, [...path]);
  return out;
}

/**
 * Why `value` (a decimal as a client sent it: text, or a JSON number) is too long to read, or
 * null when it is short enough: text over {@link MAX_DECIMAL_CHARS} characters, or a number
 * whose plain digits would be (`1e300`). Never throws.
 */
export function decimalTextIssue(value: string | number): string | null {
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return null; // Decimal.parse names it
    const exponent = Math.floor(Math.log10(Math.abs(value) || 1));
    if (String(value).length > MAX_DECIMAL_CHARS || exponent >= MAX_DECIMAL_CHARS - 1) {
      return `Must be at most ${MAX_DECIMAL_CHARS} digits, got a number of about 1e${exponent}`;
    }
    return null;
  }
  if (value.length > MAX_DECIMAL_CHARS) {
    return `Must be at most ${MAX_DECIMAL_CHARS} characters, got ${value.length}`;
  }
  return null;
}

/**
 * An identifier (a symbol, a client order id, a name): a string of at most `max` characters
 * with no control characters (C0 or DEL). `error` words the type error. Trims nothing.
 */
export function identifierText(max: number, error?: (input: unknown) => string) {
  return z.string(error ? { error: (iss) => error(iss.input) } : undefined)
    .max(max, {
      error: (iss) =>
        `Must be at most ${max} characters, got ${String((iss.input as string).length)}`,
    })
    .superRefine((text, ctx) => {
      const m = CONTROL.exec(text);
      if (m) ctx.addIssue({ code: "custom", message: controlMessage(text, m.index) });
    });
}

/**
 * Free text (a reason, a note): at most `max` characters; tabs and line breaks are allowed,
 * other control characters are not.
 */
export function freeText(max: number) {
  return z.string()
    .max(max, {
      error: (iss) =>
        `Must be at most ${max} characters, got ${String((iss.input as string).length)}`,
    })
    .superRefine((text, ctx) => {
      const m = CONTROL_EXCEPT_SPACING.exec(text);
      if (m) ctx.addIssue({ code: "custom", message: controlMessage(text, m.index) });
    });
}

/** Whether `text` holds a control character (C0 or DEL). Never throws. */
export function hasControlCharacter(text: string): boolean {
  return CONTROL.test(text);
}

/** What {@link boundedEcho} keeps of a string, and of a list. */
const ECHO_STRING_CHARS = 128;
const ECHO_LIST_ITEMS = 20;
const ECHO_DEPTH = 4;

/** `text` cut to `max` characters, with a note of its length when cut. Never throws. */
export function cutText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length} characters)`;
}

/**
 * A copy of a JSON-like value small enough to record (an audit row's echo of a request or of
 * an error's details): strings over 128 characters are cut with a note of the length, lists
 * over 20 items keep the first 20 and a note, nesting deeper than 4 levels is summarised.
 * Never throws.
 */
export function boundedEcho(value: unknown, depth = 0): unknown {
  if (typeof value === "string") {
    return cutText(value, ECHO_STRING_CHARS);
  }
  if (typeof value !== "object" || value === null) return value;
  if (depth >= ECHO_DEPTH) return Array.isArray(value) ? "[…]" : "{…}";
  if (Array.isArray(value)) {
    const kept = value.slice(0, ECHO_LIST_ITEMS).map((v) => boundedEcho(v, depth + 1));
    if (value.length > ECHO_LIST_ITEMS) kept.push(`… (${value.length} items)`);
    return kept;
  }
  const out: Record<string, unknown> = {};
  const entries = Object.entries(value);
  for (const [k, v] of entries.slice(0, ECHO_LIST_ITEMS)) {
    out[boundedEcho(k) as string] = boundedEcho(v, depth + 1);
  }
  if (entries.length > ECHO_LIST_ITEMS) out["…"] = `${entries.length} keys`;
  return out;
}
