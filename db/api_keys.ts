/**
 * API keys of the Alpaca-compatible face: a key id and a secret (Alpaca's `APCA-API-KEY-ID` and
 * `APCA-API-SECRET-KEY`) that name one Tradewind user. The secret is returned once, when the
 * key is made; only its SHA-256 hash is stored (`api_keys`, migration 0015).
 *
 * Listing and revoking run on the connection given: inside a tenant transaction row-level
 * security limits a trader to their own keys; the owner connection (the CLI) sees every key.
 * Verification goes through a SECURITY DEFINER lookup, so the application role can check a
 * presented key without a tenant and without reading anyone's keys wholesale.
 *
 * @module
 */
import type { Sql, TransactionSql } from "postgres";
import type { Role } from "./database.ts";

/** A connection or a transaction. */
type Queryable = Sql | TransactionSql;

/** A freshly made key. `secret` exists only here: it is never stored or shown again. */
export interface NewApiKey {
  keyId: string;
  secret: string;
}

/** A stored key, without its secret. Times are epoch milliseconds. */
export interface ApiKeyInfo {
  keyId: string;
  userId: string;
  username: string;
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
}

/** The user a verified key acts for. */
export interface ApiKeyUser {
  id: string;
  username: string;
  role: Role;
}

/** Key ids: `TW` and 18 characters of A–Z, 2–7 (20 in all, the length of Alpaca's). */
export const KEY_ID_RE = /^TW[A-Z2-7]{18}$/;
const SECRET_RE = /^[A-Za-z0-9]{40}$/;
const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** `length` characters drawn uniformly from `alphabet` (rejection sampling, no modulo bias). */
function randomText(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = "";
  while (out.length < length) {
    for (const b of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (b < limit && out.length < length) out += alphabet[b % alphabet.length];
    }
  }
  return out;
}

/** The SHA-256 of a secret. */
async function hashSecret(secret: string): Promise<Uint8Array> {
  return new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(secret)),
  );
}

/** Compares two byte strings in time that depends only on their lengths. */
export function timingSafeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Makes a key for `userId` and answers its id and secret (the only time the secret exists
 * outside the caller). Runs as the owner, or in the user's own tenant transaction.
 *
 * @throws the database error when the user does not exist or row-level security refuses.
 */
export async function createApiKey(sql: Queryable, userId: string): Promise<NewApiKey> {
  const keyId = "TW" + randomText(BASE32, 18);
  const secret = randomText(BASE62, 40);
  const hash = await hashSecret(secret);
  await sql`insert into api_keys (key_id, user_id, secret_hash)
            values (${keyId}, ${userId}, ${hash})`;
  return { keyId, secret };
}

/**
 * The user behind a key id and secret, or null when the key is unknown, revoked, malformed or
 * the secret does not match (the hashes are compared in constant time). Records the key's
 * use, at most once a minute. Needs no tenant.
 */
export async function verifyApiKey(
  sql: Queryable,
  keyId: string,
  secret: string,
): Promise<ApiKeyUser | null> {
  if (!KEY_ID_RE.test(keyId) || !SECRET_RE.test(secret)) return null;
  const presented = await hashSecret(secret);
  const [row] = await sql<
    { user_id: string; username: string; role: Role; secret_hash: Uint8Array }[]
  >`select * from tradewind_api_key_lookup(${keyId})`;
  if (!row || !timingSafeEqual(new Uint8Array(row.secret_hash), presented)) return null;
  await sql`select tradewind_api_key_used(${keyId})`;
  return { id: row.user_id, username: row.username, role: row.role };
}

interface KeyRow {
  key_id: string;
  user_id: string;
  username: string;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function info(row: KeyRow): ApiKeyInfo {
  return {
    keyId: row.key_id,
    userId: row.user_id,
    username: row.username,
    createdAt: row.created_at.getTime(),
    lastUsedAt: row.last_used_at?.getTime() ?? null,
    revokedAt: row.revoked_at?.getTime() ?? null,
  };
}

/**
 * The keys the connection may see (a tenant transaction: the trader's own; the owner: all),
 * oldest first, optionally of one user. Never the secrets or their hashes.
 */
export async function listApiKeys(
  sql: Queryable,
  options: { userId?: string } = {},
): Promise<ApiKeyInfo[]> {
  const rows = await sql<KeyRow[]>`
    select k.key_id, k.user_id, u.username, k.created_at, k.last_used_at, k.revoked_at
      from api_keys k join users u on u.id = k.user_id
     where ${options.userId ? sql`k.user_id = ${options.userId}` : sql`true`}
     order by k.created_at, k.key_id`;
  return rows.map(info);
}

/**
 * Revokes a key: from now on it no longer verifies. Answers the key with its `revokedAt` and
 * whether it had already been revoked (revoking twice is harmless and keeps the first time),
 * or null when there is no such key the connection may see.
 */
export async function revokeApiKey(
  sql: Queryable,
  keyId: string,
): Promise<(ApiKeyInfo & { alreadyRevoked: boolean }) | null> {
  if (!/^[A-Z0-9]{16,40}$/.test(keyId)) return null;
  const changed = await sql`update api_keys set revoked_at = now()
                             where key_id = ${keyId} and revoked_at is null
                             returning key_id`;
  const [row] = await sql<KeyRow[]>`
    select k.key_id, k.user_id, u.username, k.created_at, k.last_used_at, k.revoked_at
      from api_keys k join users u on u.id = k.user_id
     where k.key_id = ${keyId}`;
  return row ? { ...info(row), alreadyRevoked: changed.length === 0 } : null;
}

const USERNAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;

/**
 * The id of the user named `username`, created as a trader when there is none yet (as a first
 * token would); an existing user's role is left as it is. Runs as the owner.
 *
 * @throws {Error} when the username is not 1 to 64 letters, digits, `.`, `_`, `@` or `-`.
 */
export async function ensureKeyUser(sql: Queryable, username: string): Promise<string> {
  if (!USERNAME_RE.test(username)) {
    throw new Error(
      `Cannot use username "${username}": use 1 to 64 letters, digits, . _ @ -`,
    );
  }
  await sql`insert into users (username, role) values (${username}, 'trader')
            on conflict (username) do nothing`;
  const [row] = await sql<{ id: string }[]>`select id from users where username = ${username}`;
  return row!.id;
}

/** The id of the user named `username`, or null. */
export async function userIdByName(sql: Queryable, username: string): Promise<string | null> {
  if (!USERNAME_RE.test(username)) return null;
  const [row] = await sql<{ id: string }[]>`select id from users where username = ${username}`;
  return row?.id ?? null;
}
