/**
 * Authentication: HS256 tokens signed with the engine's secret, optionally tokens from an
 * external identity provider (JWKS, RS256/ES256), and the middleware that turns a bearer
 * token into the request's user (creating the user row on first sight).
 *
 * `alg: none` and algorithm confusion are refused: each key type accepts only its own
 * algorithms, and the issuer and audience are always checked. A token must carry `exp`, and its
 * lifetime (from `iat`, or from now when absent) may not exceed `JWT_MAX_TTL` (default 30 days).
 * The user is the token's `sub`, never another claim.
 *
 * @module
 */
import {
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from "jose";
import { createMiddleware } from "hono/factory";
import { join } from "node:path";
import type { Sql } from "postgres";
import type { Role, Tenant } from "../db/database.ts";
import { ensureUser } from "../db/users.ts";
import { ApiError } from "./errors.ts";

/** The authenticated user of a request. */
export interface AuthUser {
  id: string;
  username: string;
  role: Role;
}

/** Hono variables set by the auth middleware. */
export type AuthVariables = { user: AuthUser; requestId: string };

/** The tenant (row-level security identity) a request's user acts as. */
export function tenantOf(user: AuthUser): Tenant {
  return { userId: user.id, role: user.role };
}

const ROLES: readonly Role[] = ["trader", "admin", "compliance"];
const USERNAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;

/** Settings for {@link createAuthenticator}. */
export interface AuthOptions {
  /** HS256 secret (bytes or text). */
  secret: Uint8Array | string;
  issuer: string;
  audience: string;
  /** External identity provider key set. */
  jwksUrl?: string | undefined;
  /** Clock for `exp`/`nbf` checks (seconds since epoch); defaults to now. */
  now?: () => number;
  /** Longest token lifetime accepted, in seconds (`JWT_MAX_TTL`); default 30 days. */
  maxTtlSeconds?: number;
}

/** The default of `JWT_MAX_TTL`: 30 days, in seconds. */
export const DEFAULT_JWT_MAX_TTL_S = 30 * 86400;

/** A lifetime in seconds as the shortest exact text: `30d`, `12h`, `90m` or `45s`. */
export function formatTtl(seconds: number): string {
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/** Claims Tradewind reads from a verified token. */
export interface Identity {
  username: string;
  role: Role;
}

/** Verifies tokens. */
export interface Authenticator {
  /** Verifies a token; throws {@link ApiError} 401 `UNAUTHORIZED` naming the problem. */
  verify(token: string): Promise<Identity>;
}

function secretBytes(secret: Uint8Array | string): Uint8Array {
  return typeof secret === "string" ? new TextEncoder().encode(secret) : secret;
}

function unauthorized(message: string): ApiError {
  return new ApiError(401, "UNAUTHORIZED", message, {
    headers: { "WWW-Authenticate": 'Bearer realm="tradewind"' },
  });
}

/**
 * The identity of a verified token: `sub` is the username (other claims such as
 * `preferred_username` are display names a user may be able to choose, so they never name the
 * account), `role` the role (trader when absent or unknown).
 */
function identityOf(payload: JWTPayload): Identity {
  const username = payload.sub;
  if (typeof username !== "string" || !USERNAME_RE.test(username)) {
    throw unauthorized(
      "Token subject (sub) is missing or is not a valid username: use 1 to 64 letters, digits, . _ @ -",
    );
  }
  const claimed = payload.role;
  const role: Role = typeof claimed === "string" && (ROLES as string[]).includes(claimed)
    ? claimed as Role
    : "trader";
  return { username, role };
}

const CLOCK_TOLERANCE_S = 5;
/** Verified tokens are remembered this long (and never past their `exp`). */
const VERIFIED_TTL_S = 60;
const VERIFIED_MAX = 10_000;

/**
 * Creates the token verifier from the engine's settings. A token that verified is remembered
 * for up to a minute (never past its expiry), so a client's requests do not each pay for the
 * signature check; any change to the token's bytes makes it a different, unverified token.
 */
export function createAuthenticator(options: AuthOptions): Authenticator {
  const secret = secretBytes(options.secret);
  // Imported once: jose would otherwise import the raw secret on every verification.
  let hmacKey: Promise<CryptoKey> | null = null;
  const key = () =>
    hmacKey ??= crypto.subtle.importKey(
      "raw",
      secret as BufferSource,
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
  const jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : null;
  const nowSeconds = options.now ?? (() => Date.now() / 1000);
  const maxTtl = options.maxTtlSeconds ?? DEFAULT_JWT_MAX_TTL_S;
  const currentDate = options.now ? () => new Date(options.now!() * 1000) : undefined;
  const verified = new Map<string, { identity: Identity; exp: number; until: number }>();
  return {
    async verify(token: string): Promise<Identity> {
      const now = nowSeconds();
      const hit = verified.get(token);
      if (hit) {
        // The same expiry rule as the full check (exp with the clock tolerance).
        if (hit.exp > now - CLOCK_TOLERANCE_S && now < hit.until) return hit.identity;
        verified.delete(token);
      }
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch {
        throw unauthorized("Token is malformed");
      }
      const common = {
        issuer: options.issuer,
        audience: options.audience,
        clockTolerance: CLOCK_TOLERANCE_S,
        ...(currentDate ? { currentDate: currentDate() } : {}),
      };
      try {
        let payload: JWTPayload;
        if (alg === "HS256") {
          ({ payload } = await jwtVerify(token, await key(), { ...common, algorithms: ["HS256"] }));
        } else if (jwks && (alg === "RS256" || alg === "ES256")) {
          ({ payload } = await jwtVerify(token, jwks, {
            ...common,
            algorithms: ["RS256", "ES256"],
          }));
        } else {
          throw unauthorized(`Token algorithm "${alg ?? "none"}" is not accepted`);
        }
        checkLifetime(payload, now, maxTtl);
        const identity = identityOf(payload);
        if (verified.size >= VERIFIED_MAX) verified.clear();
        verified.set(token, { identity, exp: payload.exp!, until: now + VERIFIED_TTL_S });
        return identity;
      } catch (e) {
        if (e instanceof ApiError) throw e;
        const code = (e as { code?: string }).code;
        if (code === "ERR_JWT_EXPIRED") throw unauthorized("Token has expired");
        if (code === "ERR_JWS_SIGNATURE_VERIFICATION_FAILED") {
          throw unauthorized("Token signature is invalid");
        }
        if (code === "ERR_JWT_CLAIM_VALIDATION_FAILED") {
          throw unauthorized(`Token claim check failed: ${(e as Error).message}`);
        }
        throw unauthorized("Token is invalid");
      }
    },
  };
}

/**
 * Refuses a token without `exp`, or whose lifetime exceeds `maxTtl` seconds: measured from `iat`
 * (or from now, for a token without one, or one "issued" in the future) to `exp`.
 */
function checkLifetime(payload: JWTPayload, now: number, maxTtl: number): void {
  if (typeof payload.exp !== "number") {
    throw unauthorized("Token has no expiry (exp claim): sign tokens with an exp");
  }
  const from = typeof payload.iat === "number" ? Math.min(payload.iat, now) : now;
  const lifetime = payload.exp - from;
  if (lifetime > maxTtl + CLOCK_TOLERANCE_S) {
    throw unauthorized(
      `Token lifetime of ${
        Math.round(lifetime)
      } s exceeds the maximum of ${maxTtl} s (JWT_MAX_TTL ${
        formatTtl(maxTtl)
      }): sign a shorter-lived token`,
    );
  }
}

/** Parses a duration such as `12h`, `30m`, `7d` or `3600s` into seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d+)\s*([smhd])$/.exec(text.trim());
  if (!m) throw new Error(`Cannot read TTL "${text}": use a number and s, m, h or d, like 12h`);
  const n = Number(m[1]);
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as "s" | "m" | "h" | "d"];
  if (n <= 0) throw new Error(`Cannot read TTL "${text}": it must be more than zero`);
  return n * unit;
}

/**
 * Signs an HS256 token for a user. Throws when the username or role is invalid, or when
 * `ttlSeconds` exceeds `maxTtlSeconds` (default 30 days: the verifier would refuse the token).
 */
export async function signToken(
  identity: Identity,
  options: {
    secret: Uint8Array | string;
    issuer: string;
    audience: string;
    ttlSeconds: number;
    maxTtlSeconds?: number;
  },
): Promise<string> {
  const maxTtl = options.maxTtlSeconds ?? DEFAULT_JWT_MAX_TTL_S;
  if (options.ttlSeconds > maxTtl) {
    throw new Error(
      `Cannot sign a token valid for "${formatTtl(options.ttlSeconds)}": the maximum is "${
        formatTtl(maxTtl)
      }" (JWT_MAX_TTL)`,
    );
  }
  if (!USERNAME_RE.test(identity.username)) {
    throw new Error(
      `Cannot sign a token for "${identity.username}": use 1 to 64 letters, digits, . _ @ -`,
    );
  }
  if (!ROLES.includes(identity.role)) {
    throw new Error(`Cannot sign a token with role "${identity.role}": use ${ROLES.join(", ")}`);
  }
  return await new SignJWT({ role: identity.role })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(identity.username)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setJti(crypto.randomUUID())
    .setExpirationTime(Math.floor(Date.now() / 1000) + options.ttlSeconds)
    .sign(secretBytes(options.secret));
}

/**
 * The engine's HS256 secret: `JWT_SECRET` when set, else a secret generated on first use and
 * kept in `<dataDir>/jwt.secret` (mode 600).
 */
export async function loadJwtSecret(configured: string | undefined, dataDir: string) {
  if (configured) return new TextEncoder().encode(configured);
  const path = join(dataDir, "jwt.secret");
  try {
    const text = (await Deno.readTextFile(path)).trim();
    if (text.length >= 32) return new TextEncoder().encode(text);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  await Deno.mkdir(dataDir, { recursive: true });
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  const text = btoa(String.fromCharCode(...bytes)).replace(
    /[+/=]/g,
    (c) => c === "+" ? "-" : c === "/" ? "_" : "",
  );
  // createNew: two processes racing on first use agree on whichever file landed first.
  try {
    await Deno.writeTextFile(path, text + "\n", { mode: 0o600, createNew: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    return new TextEncoder().encode((await Deno.readTextFile(path)).trim());
  }
  await Deno.chmod(path, 0o600);
  return new TextEncoder().encode(text);
}

/** Takes the bearer token of a request, if any. */
export function bearerToken(header: string | undefined): string | null {
  if (!header) return null;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return m ? m[1]! : null;
}

/**
 * Middleware: requires a valid bearer token and sets `c.var.user`, creating the user row on
 * first sight. Answers 401 `UNAUTHORIZED` otherwise.
 */
export function requireAuth(auth: Authenticator, sql: Sql) {
  const userOf = userResolver(sql);
  return createMiddleware<{ Variables: AuthVariables }>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (!token) {
      throw unauthorized("Missing bearer token: send Authorization: Bearer <token>");
    }
    c.set("user", await userOf(await auth.verify(token)));
    await next();
  });
}

/**
 * The user behind a verified identity, creating the user row on first sight; each identity's
 * row id is remembered for a minute, so a busy client costs no query per request.
 */
export function userResolver(sql: Sql): (identity: Identity) => Promise<AuthUser> {
  const known = new Map<string, { id: string; at: number }>();
  return async (identity) => {
    const key = `${identity.username}\u0000${identity.role}`;
    const now = Date.now();
    let entry = known.get(key);
    if (!entry || now - entry.at > 60_000) {
      entry = { id: await ensureUser(sql, identity.username, identity.role), at: now };
      known.set(key, entry);
    }
    return { id: entry.id, username: identity.username, role: identity.role };
  };
}
