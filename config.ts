/**
 * The engine's configuration, read from the environment once, at start, by zod.
 *
 * Every variable has an embedded default so `./tradewind start` runs with none set. A bad
 * value stops start-up with a {@link ConfigError} naming the variable and what to fix.
 *
 * @module
 */
import { z } from "zod";

const bool = z.enum(["true", "false", "1", "0", "yes", "no"]).transform((v) =>
  v === "true" || v === "1" || v === "yes"
);

const intIn = (min: number, max: number) =>
  z.string().trim().regex(/^\d+$/, `must be a whole number from ${min} to ${max}`).transform(
    Number,
  ).pipe(z.number().int().min(min, `must be at least ${min}`).max(max, `must be at most ${max}`));

const decimalText = z.string().trim().regex(
  /^\d+(\.\d+)?$/,
  "must be a non-negative decimal number such as 25000 or 0.5",
);

/** A protective risk default: a non-negative decimal, or `off` for none. */
const decimalOrOff = (max?: number) =>
  z.string().trim().regex(
    /^(\d+(\.\d{1,9})?|off)$/i,
    "must be a non-negative decimal number such as 1000 or 2.5, or off",
  ).transform((v) => v.toLowerCase() === "off" ? null : v).refine(
    (v) => v === null || max === undefined || Number(v) <= max,
    `must be at most ${max}, or off`,
  );

/** An absolute URL with one of `schemes`, without query or fragment; trailing `/` dropped. */
const baseUrl = (schemes: string[], example: string) =>
  z.string().trim().refine((v) => {
    try {
      const u = new URL(v);
      return schemes.includes(u.protocol.slice(0, -1)) && u.hostname !== "" && !u.search &&
        !u.hash && !u.username && !u.password;
    } catch {
      return false;
    }
  }, `must be a ${schemes.join("://, ")}:// URL without query or credentials, such as ${example}`)
    .transform((v) => v.replace(/\/+$/, ""));

const TTL_UNITS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** A duration such as `30d`, `12h`, `90m` or `3600s`, in seconds (1 s to 3650 days). */
const ttl = z.string().trim().regex(
  /^\d+[smhd]$/,
  "must be a number and s, m, h or d, such as 30d or 12h",
).transform((v) => Number(v.slice(0, -1)) * TTL_UNITS[v.slice(-1) as keyof typeof TTL_UNITS])
  .pipe(
    z.number().min(1, "must be more than zero").max(3650 * 86400, "must be at most 3650d"),
  );

const schema = z.object({
  PORT: intIn(0, 65535).default(8000),
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  TRADEWIND_DATA_DIR: z.string().trim().min(1).default("./.tradewind"),
  DATABASE_URL: z.string().trim().regex(
    /^postgres(ql)?:\/\//,
    "must be a postgres:// or postgresql:// URL",
  ).optional(),
  DATABASE_APP_URL: z.string().trim().regex(
    /^postgres(ql)?:\/\//,
    "must be a postgres:// or postgresql:// URL",
  ).optional(),
  DATABASE_POOL_MAX: intIn(1, 200).default(10),
  EMBEDDED_PG_PORT: intIn(1024, 65535).default(54329),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_JWKS_URL: z.url({ protocol: /^https?$/ }).optional(),
  JWT_ISSUER: z.string().trim().min(1).optional(),
  JWT_AUDIENCE: z.string().trim().min(1).optional(),
  JWT_MAX_TTL: ttl.default(30 * 86400),
  METRICS_TOKEN: z.string().trim().min(32, "must be at least 32 characters").optional(),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warning", "error", "fatal"]).default("info"),
  LOG_FORMAT: z.enum(["json", "text"]).default("json"),
  SHUTDOWN_TIMEOUT_MS: intIn(0, 600_000).default(10_000),
  BROKER: z.enum(["paper", "alpaca"]).default("paper"),
  ALPACA_KEY_ID: z.string().trim().min(1).optional(),
  ALPACA_SECRET_KEY: z.string().trim().min(1).optional(),
  ALPACA_PAPER: bool.default(true),
  ALPACA_ACCOUNT_USER: z.string().trim().regex(
    /^[A-Za-z0-9._@-]{1,64}$/,
    "must be a Tradewind username (letters, digits and . _ @ -, at most 64)",
  ).optional(),
  ALPACA_TRADING_URL: baseUrl(["http", "https"], "https://paper-api.alpaca.markets").optional(),
  ALPACA_DATA_URL: baseUrl(["http", "https"], "https://data.alpaca.markets").optional(),
  ALPACA_STREAM_URL: baseUrl(["ws", "wss"], "wss://paper-api.alpaca.markets/stream").optional(),
  ALPACA_DATA_STREAM_URL: baseUrl(["ws", "wss"], "wss://stream.data.alpaca.markets/v2")
    .optional(),
  ALPACA_DATA_FEED: z.enum(["iex", "sip", "delayed_sip"]).default("iex"),
  TRADEWIND_LIVE_TRADING: bool.default(false),
  SIM_SEED: intIn(0, 2_147_483_647).default(42),
  SIM_HOURS: z.enum(["24x7", "nyse"]).default("24x7"),
  SIM_SYMBOLS: z.string().trim().regex(
    /^[A-Za-z][A-Za-z0-9.]{0,9}(,[A-Za-z][A-Za-z0-9.]{0,9})*$/,
    "must be a comma-separated list of tickers such as AAPL,MSFT",
  ).optional(),
  SIM_TICK_MS: intIn(10, 60_000).refine(
    (n) => 60_000 % n === 0,
    "must divide 60000 (e.g. 100, 250, 1000)",
  )
    .default(1000),
  PAPER_STARTING_CASH: decimalText.default("100000"),
  PAPER_MULTIPLIER: z.enum(["1", "2", "4"]).default("2"),
  PAPER_LEGACY_PDT: bool.default(false),
  RECONCILE_EVERY_MS: intIn(0, 86_400_000).default(60_000),
  POSITION_SNAPSHOT_EVERY_MS: intIn(0, 86_400_000).default(300_000),
  MAX_POSITION_SIZE: decimalText.default("25000"),
  MAX_DAILY_TRADES: intIn(0, 1_000_000).default(100),
  MAX_OPEN_POSITIONS: intIn(0, 100_000).default(20),
  MAX_ORDERS_PER_MINUTE: intIn(1, 1_000_000).default(100),
  MAX_ORDER_QTY: decimalOrOff().default("1000"),
  DAILY_LOSS_PCT: decimalOrOff(100).default("5"),
  PRICE_BAND_PCT: decimalOrOff(100).default("10"),
  STREAM_MAX_SYMBOLS: intIn(1, 10_000).default(100),
  STREAM_MAX_CONNECTIONS_PER_USER: intIn(1, 10_000).default(10),
  STREAM_BUFFER: intIn(10, 1_000_000).default(1000),
  STREAM_IDLE_TIMEOUT_MS: intIn(0, 3_600_000).default(60_000),
  STREAM_PING_MS: intIn(0, 3_600_000).default(20_000),
  BOTS_PLACEMENT: z.enum(["worker", "inline"]).default("worker"),
  BOTS_MAX_RESTARTS: intIn(0, 1_000).default(3),
  BOTS_RESTART_WINDOW_MS: intIn(1_000, 86_400_000).default(600_000),
  BOTS_HEARTBEAT_MS: intIn(0, 600_000).default(1_000),
  BOTS_HEARTBEAT_TIMEOUT_MS: intIn(10, 3_600_000).default(5_000),
});

/** The brokers this version can trade through; `BROKER` names one of them. */
export const BROKERS_AVAILABLE: readonly ("paper" | "alpaca")[] = ["paper", "alpaca"];

/** Alpaca's hosts: trading paper and live, market data, and their streams. */
export const ALPACA_HOSTS = {
  paper: "https://paper-api.alpaca.markets",
  live: "https://api.alpaca.markets",
  data: "https://data.alpaca.markets",
} as const;

/** The parsed, typed configuration. */
export type Config = {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  databaseAppUrl: string | undefined;
  databasePoolMax: number;
  embeddedPgPort: number;
  jwt: {
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string;
    audience: string;
    /** JWT_MAX_TTL in seconds: the longest lifetime (exp - iat) a token may have. */
    maxTtlSeconds: number;
  };
  /** METRICS_TOKEN: a bearer that may read `/metrics` (for a scraper); unset: admins only. */
  metricsToken: string | undefined;
  logLevel: "trace" | "debug" | "info" | "warning" | "error" | "fatal";
  logFormat: "json" | "text";
  shutdownTimeoutMs: number;
  broker: "paper" | "alpaca";
  alpaca: {
    keyId: string | undefined;
    secretKey: string | undefined;
    paper: boolean;
    /** ALPACA_ACCOUNT_USER: the Tradewind user who trades the Alpaca account. */
    accountUser: string | undefined;
    /** Trading REST base (ALPACA_TRADING_URL; default Alpaca's paper or live host). */
    tradingUrl: string;
    /** Market-data REST base (ALPACA_DATA_URL). */
    dataUrl: string;
    /** The `trade_updates` stream (ALPACA_STREAM_URL; default: the trading host's `/stream`). */
    streamUrl: string;
    /**
     * The market-data stream base, the feed appended by the client (`…/v2` + `/iex`):
     * ALPACA_DATA_STREAM_URL, default derived from the data host.
     */
    dataStreamUrl: string;
    /** ALPACA_DATA_FEED: `iex` (default, every plan), `sip` or `delayed_sip`. */
    feed: "iex" | "sip" | "delayed_sip";
  };
  liveTrading: boolean;
  sim: {
    seed: number;
    hours: "24x7" | "nyse";
    symbols: string[] | undefined;
    tickMs: number;
    startingCash: string;
    multiplier: "1" | "2" | "4";
    legacyPdt: boolean;
  };
  reconcileEveryMs: number;
  snapshotEveryMs: number;
  risk: {
    maxPositionSize: string;
    maxDailyTrades: number;
    maxOpenPositions: number;
    maxOrdersPerMinute: number;
    /** MAX_ORDER_QTY: shares per order (null: `off`). */
    maxOrderQty: string | null;
    /** DAILY_LOSS_PCT: percent of start-of-day equity (null: `off`). */
    dailyLossPct: string | null;
    /** PRICE_BAND_PCT: the price collar, in percent (null: `off`). */
    priceBandPct: string | null;
  };
  /** WebSocket stream limits (`GET /api/v1/stream`). */
  stream: {
    maxSymbols: number;
    maxConnectionsPerUser: number;
    bufferSize: number;
    idleTimeoutMs: number;
    pingMs: number;
  };
  /** The bot manager: placement, restart intensity and heartbeats (0 turns them off). */
  bots: {
    placement: "worker" | "inline";
    maxRestarts: number;
    restartWindowMs: number;
    heartbeatMs: number;
    heartbeatTimeoutMs: number;
  };
};

/** Thrown when the environment holds a bad value; the message names the variable. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Settings read from an env file: its path and the names it set that the environment did not. */
export interface EnvFileSource {
  path: string;
  keys: ReadonlySet<string>;
}

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Parses a `.env` file: `KEY=VALUE` lines (an `export ` prefix is allowed), blank lines and
 * `#` comments, a ` # comment` after an unquoted value, `'single'` quotes taken literally and
 * `"double"` quotes with `\n`, `\t`, `\"` and `\\` escapes. A later line overrides an earlier one.
 *
 * @throws {ConfigError} naming the file and line of one that is not `KEY=VALUE` (never its value).
 * @example
 * ```ts
 * parseEnvFile('PORT=9000  # API\nJWT_SECRET="a b"'); // { PORT: "9000", JWT_SECRET: "a b" }
 * ```
 */
export function parseEnvFile(text: string, path = ".env"): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  lines.forEach((raw, i) => {
    const bad = (what: string): never => {
      throw new ConfigError(`Invalid ${path} line ${i + 1}: ${what}`);
    };
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const body = line.startsWith("export ") ? line.slice(7).trimStart() : line;
    const eq = body.indexOf("=");
    if (eq < 0) bad("expected KEY=VALUE");
    const key = body.slice(0, eq).trim();
    if (!ENV_KEY.test(key)) {
      bad(`"${key.slice(0, 40)}" is not a variable name (letters, digits and _)`);
    }
    const unquoted = body.slice(eq + 1);
    const rest = unquoted.trimStart();
    let value: string;
    let after: string;
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end < 0) bad(`${key} has no closing '`);
      value = rest.slice(1, end);
      after = rest.slice(end + 1);
    } else if (rest.startsWith('"')) {
      let j = 1;
      value = "";
      const escapes: Record<string, string> = { n: "\n", t: "\t", r: "\r", '"': '"', "\\": "\\" };
      while (j < rest.length && rest[j] !== '"') {
        if (rest[j] === "\\" && j + 1 < rest.length) {
          const c = rest[j + 1]!;
          value += escapes[c] ?? `\\${c}`;
          j += 2;
        } else {
          value += rest[j];
          j++;
        }
      }
      if (j >= rest.length) bad(`${key} has no closing "`);
      after = rest.slice(j + 1);
    } else {
      // " #" starts a comment (so does a lone "#" after "KEY= "); "KEY=a#b" is "a#b".
      const hash = unquoted.search(/\s#/);
      value = (hash < 0 ? unquoted : unquoted.slice(0, hash)).trim();
      after = "";
    }
    if (after.trim() !== "" && !after.trimStart().startsWith("#")) {
      bad(`${key} has text after its closing quote`);
    }
    out[key] = value;
  });
  return out;
}

/**
 * The environment the engine runs with: the process environment over the settings of an env
 * file when that file exists. The file is `TRADEWIND_ENV_FILE` (which must then exist; `none`
 * reads no file), else `.env` in the current directory (`./tradewind` runs from the checkout).
 * A variable set in the environment, even empty, wins over the file.
 *
 * @throws {ConfigError} when the file cannot be read or has a line that is not `KEY=VALUE`.
 */
export function readEnvironment(
  options: { path?: string; env?: Record<string, string> } = {},
): { env: Record<string, string>; file: EnvFileSource | null } {
  const env = options.env ?? Deno.env.toObject();
  const named = env.TRADEWIND_ENV_FILE?.trim() || undefined;
  if (named === "none") return { env: { ...env }, file: null };
  const path = options.path ?? named ?? ".env";
  let text: string;
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound && path !== named) return { env: { ...env }, file: null };
    throw new ConfigError(
      `Cannot read ${path}${path === named ? " (TRADEWIND_ENV_FILE)" : ""}: ${
        (e as Error).message
      }`,
    );
  }
  const fromFile = parseEnvFile(text, path);
  const keys = new Set(Object.keys(fromFile).filter((k) => !(k in env)));
  return { env: { ...fromFile, ...env }, file: { path, keys } };
}

/**
 * Reads the configuration from an environment map (by default the process environment).
 * With `envFile`, an error about a variable that came from that file says so.
 *
 * @throws {ConfigError} when a variable is invalid, naming it and saying what to fix.
 * @example
 * ```ts
 * const config = loadConfig({ PORT: "8080" });
 * config.port; // 8080
 * ```
 */
export function loadConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  options: { envFile?: EnvFileSource | null } = {},
): Config {
  try {
    return parseConfig(env);
  } catch (e) {
    const file = options.envFile;
    if (!(e instanceof ConfigError) || !file) throw e;
    const named = [...e.message.matchAll(/Invalid ([A-Z_]+)/g)].map((m) => m[1]!);
    const fromFile = named.filter((k) => file.keys.has(k));
    if (fromFile.length === 0) throw e;
    throw new ConfigError(
      `${e.message} (${[...new Set(fromFile)].join(", ")} set in ${file.path})`,
    );
  }
}

function parseConfig(env: Record<string, string | undefined>): Config {
  const present: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== "") present[key] = value;
  }
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0] ?? "environment");
      const shown = name.includes("SECRET") || name.includes("KEY") || name.includes("TOKEN") ||
          name.endsWith("_URL")
        ? "(hidden)"
        : JSON.stringify(present[name] ?? "");
      return `Invalid ${name}: ${shown} ${issue.message}`;
    });
    throw new ConfigError(lines.join("; "));
  }
  const e = parsed.data;
  if (e.BROKER === "alpaca" && !BROKERS_AVAILABLE.includes("alpaca")) {
    throw new ConfigError(
      'Invalid BROKER: "alpaca" is not available in this version: use BROKER=paper, the default',
    );
  }
  const alpaca = alpacaSettings(e);
  if (e.JWT_JWKS_URL && (!e.JWT_ISSUER || !e.JWT_AUDIENCE)) {
    throw new ConfigError(
      "Invalid JWT_JWKS_URL: an external identity provider also needs JWT_ISSUER and JWT_AUDIENCE",
    );
  }
  return {
    port: e.PORT,
    host: e.HOST,
    dataDir: e.TRADEWIND_DATA_DIR,
    databaseUrl: e.DATABASE_URL,
    databaseAppUrl: e.DATABASE_APP_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    embeddedPgPort: e.EMBEDDED_PG_PORT,
    jwt: {
      secret: e.JWT_SECRET,
      jwksUrl: e.JWT_JWKS_URL,
      issuer: e.JWT_ISSUER ?? "tradewind",
      audience: e.JWT_AUDIENCE ?? "tradewind",
      maxTtlSeconds: e.JWT_MAX_TTL,
    },
    metricsToken: e.METRICS_TOKEN,
    logLevel: e.LOG_LEVEL,
    logFormat: e.LOG_FORMAT,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    broker: e.BROKER,
    alpaca,
    liveTrading: e.BROKER === "alpaca" && !e.ALPACA_PAPER && e.TRADEWIND_LIVE_TRADING,
    sim: {
      seed: e.SIM_SEED,
      hours: e.SIM_HOURS,
      symbols: e.SIM_SYMBOLS ? [...new Set(e.SIM_SYMBOLS.toUpperCase().split(","))] : undefined,
      tickMs: e.SIM_TICK_MS,
      startingCash: e.PAPER_STARTING_CASH,
      multiplier: e.PAPER_MULTIPLIER,
      legacyPdt: e.PAPER_LEGACY_PDT,
    },
    reconcileEveryMs: e.RECONCILE_EVERY_MS,
    snapshotEveryMs: e.POSITION_SNAPSHOT_EVERY_MS,
    risk: {
      maxPositionSize: e.MAX_POSITION_SIZE,
      maxDailyTrades: e.MAX_DAILY_TRADES,
      maxOpenPositions: e.MAX_OPEN_POSITIONS,
      maxOrdersPerMinute: e.MAX_ORDERS_PER_MINUTE,
      maxOrderQty: e.MAX_ORDER_QTY,
      dailyLossPct: e.DAILY_LOSS_PCT,
      priceBandPct: e.PRICE_BAND_PCT,
    },
    stream: {
      maxSymbols: e.STREAM_MAX_SYMBOLS,
      maxConnectionsPerUser: e.STREAM_MAX_CONNECTIONS_PER_USER,
      bufferSize: e.STREAM_BUFFER,
      idleTimeoutMs: e.STREAM_IDLE_TIMEOUT_MS,
      pingMs: e.STREAM_PING_MS,
    },
    bots: {
      placement: e.BOTS_PLACEMENT,
      maxRestarts: e.BOTS_MAX_RESTARTS,
      restartWindowMs: e.BOTS_RESTART_WINDOW_MS,
      heartbeatMs: e.BOTS_HEARTBEAT_MS,
      heartbeatTimeoutMs: e.BOTS_HEARTBEAT_TIMEOUT_MS,
    },
  };
}

type Env = z.infer<typeof schema>;

/** Host names and the stream host they go with. */
const DATA_STREAM_HOSTS: Record<string, string> = {
  "data.alpaca.markets": "stream.data.alpaca.markets",
  "data.sandbox.alpaca.markets": "stream.data.sandbox.alpaca.markets",
};

/**
 * The Alpaca settings, checked when BROKER=alpaca: keys and the account holder set, real
 * money only with both switches, and a trading URL that agrees with ALPACA_PAPER when it
 * names one of Alpaca's own hosts.
 */
function alpacaSettings(e: Env): Config["alpaca"] {
  const on = e.BROKER === "alpaca";
  if (on && (!e.ALPACA_KEY_ID || !e.ALPACA_SECRET_KEY)) {
    throw new ConfigError(
      'Invalid BROKER: "alpaca" needs ALPACA_KEY_ID and ALPACA_SECRET_KEY to be set (the key pair of your Alpaca paper account)',
    );
  }
  if (on && !e.ALPACA_ACCOUNT_USER) {
    throw new ConfigError(
      'Invalid BROKER: "alpaca" needs ALPACA_ACCOUNT_USER, the Tradewind username that trades the Alpaca account (one user per account; see README)',
    );
  }
  if (on && !e.ALPACA_PAPER && !e.TRADEWIND_LIVE_TRADING) {
    throw new ConfigError(
      'Invalid ALPACA_PAPER: "false" trades real money and also needs TRADEWIND_LIVE_TRADING=true',
    );
  }
  const tradingUrl = e.ALPACA_TRADING_URL ??
    (e.ALPACA_PAPER ? ALPACA_HOSTS.paper : ALPACA_HOSTS.live);
  if (on && e.ALPACA_PAPER && tradingUrl === ALPACA_HOSTS.live) {
    throw new ConfigError(
      "Invalid ALPACA_TRADING_URL: it is Alpaca's live (real money) API while ALPACA_PAPER is true: use the paper host, or set ALPACA_PAPER=false and TRADEWIND_LIVE_TRADING=true",
    );
  }
  if (on && !e.ALPACA_PAPER && tradingUrl === ALPACA_HOSTS.paper) {
    throw new ConfigError(
      "Invalid ALPACA_TRADING_URL: it is Alpaca's paper API while ALPACA_PAPER is false: remove ALPACA_TRADING_URL, or set ALPACA_PAPER=true",
    );
  }
  const dataUrl = e.ALPACA_DATA_URL ?? ALPACA_HOSTS.data;
  const ws = (u: URL) => (u.protocol === "https:" ? "wss:" : "ws:");
  const trading = new URL(tradingUrl);
  const data = new URL(dataUrl);
  const path = (u: URL) => u.pathname.replace(/\/+$/, "");
  const streamUrl = e.ALPACA_STREAM_URL ?? `${ws(trading)}//${trading.host}${path(trading)}/stream`;
  const dataStreamUrl = e.ALPACA_DATA_STREAM_URL ??
    `${ws(data)}//${DATA_STREAM_HOSTS[data.hostname] ?? data.host}${path(data)}/v2`;
  return {
    keyId: e.ALPACA_KEY_ID,
    secretKey: e.ALPACA_SECRET_KEY,
    paper: e.ALPACA_PAPER,
    accountUser: e.ALPACA_ACCOUNT_USER,
    tradingUrl,
    dataUrl,
    streamUrl,
    dataStreamUrl,
    feed: e.ALPACA_DATA_FEED,
  };
}
