/**
 * `tradewind apikey <username>`, `apikey --list [username]` and `apikey --revoke <key id>`: the
 * API-key commands' logic, kept out of `main.ts` so it runs (and is tested) on any owner
 * connection.
 *
 * @module
 */
import type { Sql } from "postgres";
import {
  type ApiKeyInfo,
  createApiKey,
  ensureKeyUser,
  listApiKeys,
  revokeApiKey,
  userIdByName,
} from "./api_keys.ts";

/** What the command prints and its exit code (0 done, 1 nothing found, 2 bad usage). */
export interface ApiKeyCliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Usage of the apikey commands. */
export const APIKEY_USAGE =
  "apikey <username> | apikey --list [username] | apikey --revoke <key id>";

function usage(message: string): ApiKeyCliResult {
  return { code: 2, stdout: "", stderr: `${message}\nUsage: tradewind ${APIKEY_USAGE}\n` };
}

function time(ms: number | null, none: string): string {
  return ms === null ? none : new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The keys as an aligned table, one line per key, with a header. */
export function formatKeyTable(keys: ApiKeyInfo[]): string {
  const rows = [
    ["KEY ID", "USER", "CREATED", "LAST USED", "REVOKED"],
    ...keys.map((k) => [
      k.keyId,
      k.username,
      time(k.createdAt, "-"),
      time(k.lastUsedAt, "never"),
      time(k.revokedAt, "-"),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n") + "\n";
}

/**
 * Runs an apikey command on a connection that sees every key (the owner). A new key prints
 * `APCA_API_KEY_ID=…` and `APCA_API_SECRET_KEY=…` on stdout (and nothing else there, so the
 * output can go straight into an env file); `--list` never prints secrets.
 */
export async function runApiKeyCommand(sql: Sql, args: string[]): Promise<ApiKeyCliResult> {
  const [first, ...rest] = args;
  if (first === undefined) return usage("apikey needs a username");
  if (first === "--list") {
    if (rest.length > 1) return usage(`Unexpected argument "${rest[1]}"`);
    const username = rest[0];
    let userId: string | undefined;
    if (username !== undefined) {
      const id = await userIdByName(sql, username);
      if (id === null) {
        return { code: 1, stdout: "", stderr: `No user "${username}": no keys to list\n` };
      }
      userId = id;
    }
    const keys = await listApiKeys(sql, userId ? { userId } : {});
    return {
      code: 0,
      stdout: formatKeyTable(keys),
      stderr: keys.length === 0
        ? "No API keys yet: make one with tradewind apikey <username>\n"
        : "",
    };
  }
  if (first === "--revoke") {
    const keyId = rest[0];
    if (keyId === undefined) return usage("--revoke needs a key id");
    if (rest.length > 1) return usage(`Unexpected argument "${rest[1]}"`);
    const key = await revokeApiKey(sql, keyId);
    if (!key) {
      return {
        code: 1,
        stdout: "",
        stderr: `No API key "${keyId}": see tradewind apikey --list\n`,
      };
    }
    const stdout = key.alreadyRevoked
      ? `API key ${keyId} of "${key.username}" was already revoked at ${time(key.revokedAt, "-")}\n`
      : `Revoked API key ${keyId} of "${key.username}"\n`;
    return { code: 0, stdout, stderr: "" };
  }
  if (first.startsWith("-")) return usage(`Unknown option "${first}"`);
  if (rest.length > 0) return usage(`Unexpected argument "${rest[0]}"`);
  let userId: string;
  try {
    userId = await ensureKeyUser(sql, first);
  } catch (e) {
    return usage((e as Error).message);
  }
  const key = await createApiKey(sql, userId);
  return {
    code: 0,
    stdout: `APCA_API_KEY_ID=${key.keyId}\nAPCA_API_SECRET_KEY=${key.secret}\n`,
    stderr:
      `API key ${key.keyId} for "${first}". The secret is shown only now and stored only as a hash: keep it safe.\n`,
  };
}
