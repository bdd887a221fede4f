/**
 * Structured logs through LogTape: JSON lines (or text) on stderr, with tokens, keys,
 * passwords and secrets redacted before anything is written.
 *
 * stdout is kept for command output (`./tradewind token` prints only the token).
 *
 * @module
 */
import {
  configure,
  getJsonLinesFormatter,
  getLogger,
  getTextFormatter,
  type Logger,
  type LogRecord,
  reset,
} from "@logtape/logtape";

const SECRET_KEY_RE =
  /pass(word)?|secret|token|authorization|api[-_]?key|key[-_]?id|cookie|jwt|credential/i;
const JWT_RE = /eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;
const URL_PASSWORD_RE = /(postgres(?:ql)?:\/\/[^:/@\s]+:)[^@\s]+@/g;
const QUERY_TOKEN_RE = /([?&](?:token|access_token|secret|key)=)[^&\s"]+/gi;
const BEARER_RE = /(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi;

/** Replaces secrets inside a string: JWTs, URL passwords, `token=` query values, bearer tokens. */
export function redactText(text: string): string {
  return text
    .replace(JWT_RE, "[REDACTED]")
    .replace(URL_PASSWORD_RE, "$1[REDACTED]@")
    .replace(QUERY_TOKEN_RE, "$1[REDACTED]")
    .replace(BEARER_RE, "$1[REDACTED]");
}

/** Deep copy of a value with secret-named fields and secret-looking strings redacted. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return redactText(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) {
    return { name: value.name, message: redactText(value.message) };
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY_RE.test(k) ? "[REDACTED]" : redact(v, depth + 1);
  }
  return out;
}

function redactRecord(record: LogRecord): LogRecord {
  return {
    ...record,
    // Render the message once, with plain (unquoted) strings and numbers.
    message: [
      record.message.map((part, i) => {
        const v = redact(part);
        if (i % 2 === 0 || typeof v === "string") return String(v);
        return typeof v === "object" ? JSON.stringify(v) : String(v);
      }).join(""),
    ],
    rawMessage: typeof record.rawMessage === "string"
      ? redactText(record.rawMessage)
      : record.rawMessage,
    properties: redact(record.properties) as Record<string, unknown>,
  };
}

/** Options for {@link configureLogging}. */
export interface LoggingOptions {
  level: "trace" | "debug" | "info" | "warning" | "error" | "fatal";
  format: "json" | "text";
  /** Where lines go; stderr by default. */
  write?: (line: string) => void;
}

/** Sets up LogTape for the `tradewind` category tree. Safe to call more than once. */
export async function configureLogging(options: LoggingOptions): Promise<void> {
  const formatter = options.format === "json"
    ? getJsonLinesFormatter({ properties: "nest:properties" })
    : getTextFormatter();
  const encoder = new TextEncoder();
  const write = options.write ?? ((line: string) => {
    Deno.stderr.writeSync(encoder.encode(line));
  });
  await reset();
  await configure({
    sinks: { main: (record: LogRecord) => write(formatter(redactRecord(record))) },
    loggers: [
      { category: ["tradewind"], lowestLevel: options.level, sinks: ["main"] },
      { category: ["logtape", "meta"], lowestLevel: "warning", sinks: ["main"] },
    ],
  });
}

/** A logger under the `tradewind` category. */
export function logger(...category: string[]): Logger {
  return getLogger(["tradewind", ...category]);
}
