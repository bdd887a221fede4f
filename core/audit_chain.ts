/**
 * The audit trail's hash chain, computed in TypeScript: the canonical text of one row, its
 * SHA-256, and checkpoints (each chain's newest row, kept outside the database).
 *
 * The database hashes each row in a trigger with `execution_log_hash()` (migration 0001):
 * SHA-256 over the UTF-8 text of
 * `jsonb_build_array(seq, ts in epoch microseconds, user_id, order_id, bot_id, client_order_id,
 * action, status, reason, payload, correlation_id, causation_id, prev_hash)`. The verifier must
 * not trust that function (a superuser can redefine it), so {@link auditHashText} rebuilds the
 * same bytes here: PostgreSQL's jsonb text form is `[a, b, …]` with `", "` between elements,
 * numbers in plain decimal, `null`, and strings escaped as `escape_json()` does (`\"`, `\\`,
 * `\b`, `\f`, `\n`, `\r`, `\t`, other characters below U+0020 as `\u00xx`, everything else
 * verbatim). The payload enters as the database's own jsonb text (keys ordered, `": "` and
 * `", "` separators), which is exactly how a nested jsonb value is written inside the array.
 *
 * Pure: no I/O.
 *
 * @module
 */
import { createHash } from "node:crypto";

/** The `prev_hash` of the first row of every chain. */
export const GENESIS_HASH = "0".repeat(64);

/** The chain of audit rows that have no user (engine events). */
export const SYSTEM_CHAIN = "system";

/** The fields of one stored audit row that its hash covers, as text read from the database. */
export interface AuditRowFields {
  /** `seq` (a bigint) in decimal. */
  seq: string;
  /** `ts` as epoch microseconds (see {@link parseUtcTimestamp}). */
  tsMicros: bigint;
  userId: string | null;
  orderId: string | null;
  botId: string | null;
  clientOrderId: string | null;
  action: string;
  status: string;
  reason: string | null;
  /** `payload::text`: the database's own jsonb text of the payload. */
  payload: string;
  correlationId: string | null;
  causationId: string | null;
  prevHash: string;
}

/** A JSON string as PostgreSQL's `escape_json()` writes it. */
export function pgJsonString(text: string): string {
  let out = '"';
  for (const ch of text) {
    switch (ch) {
      case '"':
        out += '\\"';
        break;
      case "\\":
        out += "\\\\";
        break;
      case "\b":
        out += "\\b";
        break;
      case "\f":
        out += "\\f";
        break;
      case "\n":
        out += "\\n";
        break;
      case "\r":
        out += "\\r";
        break;
      case "\t":
        out += "\\t";
        break;
      default: {
        const code = ch.codePointAt(0)!;
        out += code < 0x20 ? `\\u${code.toString(16).padStart(4, "0")}` : ch;
      }
    }
  }
  return out + '"';
}

function nullableString(value: string | null): string {
  return value === null ? "null" : pgJsonString(value);
}

/**
 * The exact text `execution_log_hash()` hashes for a row. Throws a `RangeError` when `seq`
 * is not an integer.
 */
export function auditHashText(row: AuditRowFields): string {
  if (!/^-?\d+$/.test(row.seq)) {
    throw new RangeError(`Cannot hash audit row "${row.seq}": seq is not an integer`);
  }
  return "[" + [
    row.seq,
    row.tsMicros.toString(),
    nullableString(row.userId),
    nullableString(row.orderId),
    nullableString(row.botId),
    nullableString(row.clientOrderId),
    pgJsonString(row.action),
    pgJsonString(row.status),
    nullableString(row.reason),
    row.payload,
    nullableString(row.correlationId),
    nullableString(row.causationId),
    pgJsonString(row.prevHash),
  ].join(", ") + "]";
}

/** The SHA-256 (lowercase hex) a row's `hash` must hold, computed here, not by the database. */
export function auditRowHash(row: AuditRowFields): string {
  return createHash("sha256").update(new TextEncoder().encode(auditHashText(row))).digest("hex");
}

const PG_UTC_TIMESTAMP =
  /^(\d{4,})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?\+00( BC)?$/;

/**
 * Epoch microseconds of a `timestamptz` printed by PostgreSQL with `TimeZone = UTC` and
 * `DateStyle = ISO` (`2026-12-06 02:08:57.123456+00`); null when the text is not such a time
 * (for example `infinity`).
 */
export function parseUtcTimestamp(text: string): bigint | null {
  const m = PG_UTC_TIMESTAMP.exec(text);
  if (!m) return null;
  const year = m[8] ? 1 - Number(m[1]) : Number(m[1]);
  const date = new Date(0);
  date.setUTCFullYear(year, Number(m[2]) - 1, Number(m[3]));
  date.setUTCHours(Number(m[4]), Number(m[5]), Number(m[6]), 0);
  const ms = date.getTime();
  if (!Number.isFinite(ms)) return null;
  return BigInt(ms) * 1000n + BigInt((m[7] ?? "").padEnd(6, "0"));
}

/** One chain's newest row at the time of a checkpoint. */
export interface ChainHead {
  /** The user's id, or {@link SYSTEM_CHAIN}. */
  chain: string;
  /** The user's name when known (informative; not compared). */
  username?: string | null;
  seq: string;
  hash: string;
}

/** Every chain's head at one moment: what `./tradewind audit checkpoint` prints. */
export interface AuditCheckpoint {
  kind: "tradewind.audit.checkpoint";
  version: 1;
  /** RFC-3339 UTC time the heads were read. */
  taken_at: string;
  chains: ChainHead[];
}

/** Builds a checkpoint document from heads read at `takenAtMs`. */
export function makeCheckpoint(takenAtMs: number, heads: ChainHead[]): AuditCheckpoint {
  return {
    kind: "tradewind.audit.checkpoint",
    version: 1,
    taken_at: new Date(takenAtMs).toISOString(),
    chains: [...heads].sort((a, b) => compareChains(a.chain, b.chain)),
  };
}

function compareChains(a: string, b: string): number {
  if (a === b) return 0;
  if (a === SYSTEM_CHAIN) return -1;
  if (b === SYSTEM_CHAIN) return 1;
  return a < b ? -1 : 1;
}

/** Thrown when a checkpoint file cannot be read as checkpoints. */
export class CheckpointError extends Error {
  override name = "CheckpointError";
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

function asCheckpoint(value: unknown, where: string): AuditCheckpoint | null {
  if (typeof value !== "object" || value === null) return null;
  const v = value as Record<string, unknown>;
  if (v.kind !== "tradewind.audit.checkpoint") {
    // A log record carrying one (the engine logs them with LOG_FORMAT=json).
    const props = v.properties as Record<string, unknown> | undefined;
    return props && typeof props === "object" ? asCheckpoint(props.checkpoint, where) : null;
  }
  if (v.version !== 1) {
    throw new CheckpointError(`Cannot read checkpoint ${where}: version "${v.version}" is unknown`);
  }
  if (!Array.isArray(v.chains)) {
    throw new CheckpointError(`Cannot read checkpoint ${where}: "chains" must be a list`);
  }
  const chains: ChainHead[] = v.chains.map((c: unknown, i: number) => {
    const h = (c ?? {}) as Record<string, unknown>;
    const chain = h.chain, seq = h.seq, hash = h.hash;
    if (typeof chain !== "string" || (chain !== SYSTEM_CHAIN && !UUID.test(chain))) {
      throw new CheckpointError(
        `Cannot read checkpoint ${where}: chains[${i}].chain "${chain}" is not "system" or a user id`,
      );
    }
    if (typeof seq !== "string" || !/^\d{1,19}$/.test(seq)) {
      throw new CheckpointError(
        `Cannot read checkpoint ${where}: chains[${i}].seq "${seq}" is not a sequence number`,
      );
    }
    if (typeof hash !== "string" || !/^[0-9a-f]{64}$/.test(hash)) {
      throw new CheckpointError(
        `Cannot read checkpoint ${where}: chains[${i}].hash "${hash}" is not a SHA-256 in hex`,
      );
    }
    const username = typeof h.username === "string" ? h.username : null;
    return { chain, username, seq, hash };
  });
  return {
    kind: "tradewind.audit.checkpoint",
    version: 1,
    taken_at: String(v.taken_at ?? ""),
    chains,
  };
}

/**
 * Reads the checkpoints in a file: one checkpoint document (as `audit checkpoint` prints it),
 * or JSON lines (an engine log) of which every line carrying a checkpoint counts; other lines
 * are skipped. Throws {@link CheckpointError} when none is found or one is malformed.
 */
export function parseCheckpoints(text: string, name = "file"): AuditCheckpoint[] {
  try {
    const whole = asCheckpoint(JSON.parse(text), `"${name}"`);
    if (whole) return [whole];
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
  }
  const found: AuditCheckpoint[] = [];
  text.split("\n").forEach((line, i) => {
    const start = line.indexOf("{");
    if (start < 0) return;
    let value: unknown;
    try {
      value = JSON.parse(line.slice(start));
    } catch {
      return;
    }
    const cp = asCheckpoint(value, `"${name}" line ${i + 1}`);
    if (cp) found.push(cp);
  });
  if (found.length === 0) {
    throw new CheckpointError(
      `Cannot read "${name}": no audit checkpoint in it (expected the output of "tradewind audit checkpoint" or engine log lines "Audit checkpoint")`,
    );
  }
  return found;
}
