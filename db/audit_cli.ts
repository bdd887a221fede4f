/**
 * `tradewind audit verify [--checkpoint FILE]…` and `tradewind audit checkpoint`: the audit
 * commands' logic, kept out of `main.ts` so it runs (and is tested) on any owner connection.
 *
 * @module
 */
import type { Sql } from "postgres";
import {
  type AuditCheckpoint,
  CheckpointError,
  makeCheckpoint,
  parseCheckpoints,
  SYSTEM_CHAIN,
} from "../core/audit_chain.ts";
import { verifyAudit } from "./audit.ts";

/** What the command prints and its exit code (0 intact, 1 broken, 2 bad usage). */
export interface AuditCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Usage of the audit commands. */
export const AUDIT_USAGE =
  "audit verify [--checkpoint FILE]… | audit checkpoint [--checkpoint FILE]…";

/** Options of {@link runAuditCommand}. */
export interface AuditCliOptions {
  /** Milliseconds since the epoch, stamped on a new checkpoint. */
  now: () => number;
  readTextFile?: (path: string) => Promise<string>;
}

/**
 * Runs `audit verify` or `audit checkpoint` on a connection that sees every audit row (the
 * owner). Both walk every chain and recompute every hash in TypeScript, and check the heads of
 * every `--checkpoint` file given; `checkpoint` then prints each chain's head as JSON, or
 * nothing when the trail is broken.
 */
export async function runAuditCommand(
  sql: Sql,
  args: string[],
  options: AuditCliOptions,
): Promise<AuditCliResult> {
  const [sub, ...rest] = args;
  if (sub !== "verify" && sub !== "checkpoint") {
    return usage(`audit needs a subcommand: ${AUDIT_USAGE}`);
  }
  const files: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i]!;
    if (a === "--checkpoint") {
      const file = rest[++i];
      if (file === undefined) return usage("--checkpoint needs a file");
      files.push(file);
    } else if (a.startsWith("--checkpoint=")) files.push(a.slice("--checkpoint=".length));
    else return usage(`Unknown argument "${a}": ${AUDIT_USAGE}`);
  }
  const read = options.readTextFile ?? Deno.readTextFile;
  const checkpoints: AuditCheckpoint[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await read(file);
    } catch (e) {
      return usage(`Cannot read checkpoint file "${file}": ${(e as Error).message}`);
    }
    try {
      checkpoints.push(...parseCheckpoints(text, file));
    } catch (e) {
      if (e instanceof CheckpointError) return usage(e.message);
      throw e;
    }
  }

  const result = await verifyAudit(sql, { checkpoints });
  if (!result.ok) {
    const names = await usernames(sql, result.problems.map((p) => p.chain));
    const lines = result.problems.map((p) =>
      `Audit chain BROKEN: chain ${names(p.chain)} at seq ${p.seq}: ${p.problem}`
    );
    lines.push(
      `${result.problems.length} of ${result.chains} chains broken (${result.rows} rows read)`,
    );
    if (sub === "checkpoint") lines.push("No checkpoint taken: the audit trail is broken");
    const text = lines.join("\n") + "\n";
    return sub === "verify"
      ? { code: 1, stdout: text, stderr: "" }
      : { code: 1, stdout: "", stderr: text };
  }
  if (sub === "checkpoint") {
    const names = await usernameMap(sql, result.heads.map((h) => h.chain));
    const checkpoint = makeCheckpoint(
      options.now(),
      result.heads.map((h) => ({
        chain: h.chain,
        username: names.get(h.chain) ?? null,
        seq: h.seq,
        hash: h.hash,
      })),
    );
    return { code: 0, stdout: JSON.stringify(checkpoint, null, 2) + "\n", stderr: "" };
  }
  let text = `Audit chain intact: ${result.rows} rows in ${result.chains} chains${
    result.head ? `, newest hash ${result.head}` : ""
  }\n`;
  text += checkpoints.length > 0
    ? `Every head of ${checkpoints.length} checkpoint${
      checkpoints.length === 1 ? "" : "s"
    } (${result.checkpointHeads} chain heads) is in place, unchanged\n`
    : "Without --checkpoint, removal of a chain's newest rows, or a chain rewritten with " +
      "recomputed hashes, cannot be detected\n";
  return { code: 0, stdout: text, stderr: "" };
}

function usage(message: string): AuditCliResult {
  return { code: 2, stdout: "", stderr: message + "\n" };
}

async function usernameMap(sql: Sql, chains: string[]): Promise<Map<string, string>> {
  const ids = chains.filter((c) => c !== SYSTEM_CHAIN);
  if (ids.length === 0) return new Map();
  const rows = await sql<{ id: string; username: string }[]>`
    select id::text as id, username from users where id::text in ${sql(ids)}`;
  return new Map(rows.map((r) => [r.id, r.username]));
}

async function usernames(sql: Sql, chains: string[]): Promise<(chain: string) => string> {
  const map = await usernameMap(sql, chains);
  return (chain) => {
    const name = map.get(chain);
    return name === undefined ? `"${chain}"` : `"${name}" (${chain})`;
  };
}
