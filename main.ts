/**
 * Tradewind's composition root and command line.
 *
 * ```
 * deno run -A main.ts serve                 # the engine (./tradewind start)
 * deno run -A main.ts migrate               # apply pending migrations and exit
 * deno run -A main.ts token <user> [--role trader|admin|compliance] [--ttl 12h]
 * deno run -A main.ts apikey <user> | --list [user] | --revoke <key id>   # /v2 API keys
 * deno run -A main.ts audit verify [--checkpoint FILE]   # recompute the audit hash chains
 * deno run -A main.ts audit checkpoint                   # print each chain's head as JSON
 * ```
 *
 * @module
 */
import postgres from "postgres";
import { type Config, ConfigError, loadConfig, readEnvironment } from "./config.ts";
import { AUDIT_USAGE, runAuditCommand } from "./db/audit_cli.ts";
import { runApiKeyCommand } from "./db/api_keys_cli.ts";
import { type Database, openDatabase } from "./db/database.ts";
import { configureLogging, logger } from "./logging.ts";
import {
  createAuthenticator,
  formatTtl,
  loadJwtSecret,
  parseTtl,
  signToken,
} from "./routes/auth.ts";
import { Metrics } from "./routes/metrics.ts";
import { MessageBus } from "./actors/bus.ts";
import { BotManager } from "./actors/bots/manager.ts";
import { MarketMonitor } from "./actors/market_monitor.ts";
import { ExecutionEngine } from "./actors/execution_engine.ts";
import { StreamHub } from "./actors/stream_hub.ts";
import { AuditCheckpointer } from "./actors/audit_checkpointer.ts";
import { PostgresStreamStore } from "./db/stream.ts";
import { CachedMarketData } from "./brokers/cache.ts";
import { PaperVenue } from "./brokers/paper/venue.ts";
import { AlpacaVenue } from "./brokers/alpaca/venue.ts";
import type { Venue } from "./brokers/broker.ts";
import { findUserIdByUsername } from "./db/account_holder.ts";
import { SystemClock } from "./core/clock.ts";
import { cryptoIdSource } from "./core/ids.ts";
import { riskLimitsFromConfig } from "./core/risk.ts";
import { Decimal } from "./core/decimal.ts";
import { loadPaperState } from "./db/paper_state.ts";
import { createApp } from "./routes/mod.ts";
import { shutdownGate } from "./signals.ts";

/** The engine's version, shown by /health and the OpenAPI document. */
export const VERSION = "0.1.0";

const USAGE = `Usage: tradewind <command>

Commands:
  start | serve                          run the engine (default)
  migrate                                apply pending database migrations
  token <username> [--role R] [--ttl T]  print a token (R: trader, admin, compliance;
                                         T: 12h, at most JWT_MAX_TTL, 30d)
  apikey <username>                      print a new API key for the Alpaca-compatible face
                                         (/v2) as APCA_API_KEY_ID=… and APCA_API_SECRET_KEY=…
  apikey --list [username]               list API keys (never their secrets)
  apikey --revoke <key id>               revoke an API key
  audit verify [--checkpoint FILE]       recompute the audit trail's hash chains (and check
                                         the chain heads kept in FILE)
  audit checkpoint                       print each audit chain's head (JSON) to keep elsewhere
  help                                   this text

Configuration comes from the environment and, under it, a .env file in the current
directory when there is one; see README.md and .env.example.`;

function fail(message: string, code = 2): never {
  console.error(`tradewind: ${message}`);
  Deno.exit(code);
}

async function open(config: Config): Promise<Database> {
  const log = logger("db");
  return await openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    databaseAppUrl: config.databaseAppUrl,
    embeddedPort: config.embeddedPgPort,
    poolMax: config.databasePoolMax,
    log: (m) => log.info(m),
  });
}

async function serve(config: Config): Promise<void> {
  const log = logger("engine");
  if (config.liveTrading) {
    for (const line of LIVE_BANNER) log.error(line);
  }
  const db = await open(config);
  const secret = await loadJwtSecret(config.jwt.secret, config.dataDir);
  const auth = createAuthenticator({
    secret,
    issuer: config.jwt.issuer,
    audience: config.jwt.audience,
    jwksUrl: config.jwt.jwksUrl,
    maxTtlSeconds: config.jwt.maxTtlSeconds,
  });
  const metrics = new Metrics();
  const clock = new SystemClock();
  const paper = config.broker === "paper"
    ? new PaperVenue({
      clock,
      ids: cryptoIdSource,
      seed: config.sim.seed,
      hours: config.sim.hours,
      tickMs: config.sim.tickMs,
      startingCash: config.sim.startingCash,
      multiplier: config.sim.multiplier,
      legacyPdt: config.sim.legacyPdt,
      ...(config.sim.symbols ? { symbols: config.sim.symbols } : {}),
    })
    : null;
  const venue: Venue = paper ?? alpacaVenue(config, db, clock);
  const bus = new MessageBus((e) =>
    log.error("A bus subscriber failed: {error}", { error: String(e) })
  );
  const engineLog = logger("execution");
  const engine = new ExecutionEngine({
    sql: db.sql,
    venue,
    clock,
    ids: cryptoIdSource,
    bus,
    defaultLimits: riskLimitsFromConfig(config.risk),
    reconcileEveryMs: config.reconcileEveryMs,
    snapshotEveryMs: config.snapshotEveryMs,
    log: (level, message, fields) => engineLog[level](message, fields ?? {}),
  });
  // Crash-only start: rebuild the paper venue from the ledger, then reconcile (with Alpaca:
  // against the account itself, adopting orders placed outside Tradewind).
  if (paper) {
    const restored = paper.restore(
      await loadPaperState(db.sql, Decimal.parse(config.sim.startingCash)),
    );
    if (restored.length > 0) {
      log.info("Restored {accounts} paper accounts ({orders} open orders) from the ledger", {
        accounts: restored.length,
        orders: restored.reduce((n, r) => n + r.restored.length, 0),
      });
    }
    paper.start();
  }
  await engine.start();
  const auditLog = logger("audit");
  const checkpoints = new AuditCheckpointer({
    sql: db.sql,
    clock,
    log: (level, message, fields) => auditLog[level](message, fields),
  });
  await checkpoints.start();
  const monitor = new MarketMonitor({ clock, bus, hours: paper ? config.sim.hours : "nyse" });
  monitor.start();
  const bots = new BotManager({
    sql: db.sql,
    engine,
    venue: venue.marketData,
    bus,
    clock,
    placement: config.bots.placement,
    maxRestarts: config.bots.maxRestarts,
    restartWindowMs: config.bots.restartWindowMs,
    heartbeat: config.bots.heartbeatMs > 0
      ? { intervalMs: config.bots.heartbeatMs, timeoutMs: config.bots.heartbeatTimeoutMs }
      : null,
    marketOpen: monitor.isOpen,
  });
  const resumed = await bots.resumeRunning();
  if (resumed > 0) log.info("Resumed {bots} running bots", { bots: resumed });
  const streamLog = logger("stream");
  const stream = new StreamHub({
    bus,
    marketData: venue.marketData,
    store: new PostgresStreamStore(db.sql),
    limits: config.stream,
    log: (level, message, fields) => streamLog[level](message, fields ?? {}),
  });
  await stream.start();
  const app = createApp({
    sql: db.sql,
    ready: db.ready,
    auth,
    metrics,
    metricsToken: config.metricsToken,
    version: VERSION,
    trading: {
      engine,
      venue,
      marketData: new CachedMarketData(venue.marketData, clock),
      clock,
      bots,
    },
    stream,
    liveTrading: config.liveTrading,
  });
  if (paper) {
    log.info("Paper venue: {symbols} symbols, hours {hours}, seed {seed}", {
      symbols: paper.symbols.length,
      hours: config.sim.hours,
      seed: config.sim.seed,
    });
  } else {
    log.info("Alpaca venue ({mode}): {url}, account of user {user}, feed {feed}", {
      mode: config.alpaca.paper ? "paper" : "LIVE",
      url: config.alpaca.tradingUrl,
      user: config.alpaca.accountUser,
      feed: config.alpaca.feed,
    });
  }

  // The handlers are in place before the engine says it is listening: a signal sent the moment
  // "listening on" is read drains, it does not kill the process with the default action.
  // Assigned once, below, after the handlers that read it are installed.
  // deno-lint-ignore prefer-const
  let server: Deno.HttpServer | undefined;
  const shutdown = async (signal: string) => {
    log.info("{signal}: draining requests and shutting down", { signal });
    const timer = setTimeout(() => {
      log.error("Shutdown took longer than {ms} ms: exiting", { ms: config.shutdownTimeoutMs });
      db.embedded?.stopNowait();
      Deno.exit(1);
    }, config.shutdownTimeoutMs);
    try {
      await stream.stop();
      await server?.shutdown();
      monitor.stop();
      await bots.close();
      paper?.stop();
      await engine.stop();
      await checkpoints.stop();
      await db.close();
      log.info("Stopped cleanly");
    } finally {
      clearTimeout(timer);
    }
    Deno.exit(0);
  };
  const onSignal = shutdownGate({
    clock,
    drain: (signal) => void shutdown(signal),
    exitNow: (signal) => {
      log.warning("Second {signal}: exiting at once", { signal });
      db.embedded?.stopNowait();
      Deno.exit(130);
    },
    ignored: (signal, afterMs) =>
      log.info("{signal} again {ms} ms after the first: the same request, already draining", {
        signal,
        ms: afterMs,
      }),
  });
  Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
  Deno.addSignalListener("SIGTERM", () => onSignal("SIGTERM"));
  server = Deno.serve({
    port: config.port,
    hostname: config.host,
    onListen: ({ hostname, port }) =>
      log.info("Tradewind {version} listening on http://{hostname}:{port} (broker: {broker})", {
        version: VERSION,
        hostname,
        port,
        broker: config.broker,
      }),
  }, app.fetch);

  await server.finished;
}

/** The error-level banner logged at start when real money is traded. */
const LIVE_BANNER = [
  "*************************************************************************************",
  "LIVE TRADING IS ON: orders go to Alpaca's live API and trade REAL MONEY",
  "(BROKER=alpaca, ALPACA_PAPER=false, TRADEWIND_LIVE_TRADING=true)",
  "*************************************************************************************",
];

/**
 * The Alpaca venue of the configuration: the account of `ALPACA_ACCOUNT_USER`, every request
 * within one budget of 200 a minute. Trade updates and live market data: see the streams
 * (brokers/alpaca/trade_stream.ts, market_stream.ts); until they are wired here, fills arrive by
 * reconciliation and live data is polled over REST.
 */
function alpacaVenue(config: Config, db: Database, clock: SystemClock): AlpacaVenue {
  const { keyId, secretKey, accountUser } = config.alpaca;
  // config.ts guarantees these with BROKER=alpaca.
  if (!keyId || !secretKey || !accountUser) throw new ConfigError("Alpaca settings are missing");
  const log = logger("alpaca");
  return new AlpacaVenue({
    clock,
    keyId,
    secretKey,
    paper: config.alpaca.paper,
    tradingUrl: config.alpaca.tradingUrl,
    dataUrl: config.alpaca.dataUrl,
    feed: config.alpaca.feed,
    accountHolder: () => findUserIdByUsername(db.sql, accountUser),
    // The streams (h/adapter-streams) plug in here:
    //   tradeUpdates: new AlpacaTradeStream({ url: config.alpaca.streamUrl, keyId,
    //     secret: secretKey, clock, onReconnected: () => engine.reconcile() }),
    //   marketStream: (rest) => new AlpacaMarketStream({ keyId, secret: secretKey, clock,
    //     url: alpacaMarketStreamUrl(config.alpaca.feed, config.alpaca.dataStreamUrl),
    //     fillGap: barsGapFiller(rest) }),
    poll: {
      onError: (e) =>
        log.warning("Polling Alpaca market data failed: {error}", { error: String(e) }),
    },
  });
}

async function tokenCommand(config: Config, args: string[]): Promise<void> {
  let username: string | undefined;
  let role = "trader";
  let ttl: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === "--role") role = args[++i] ?? fail("--role needs a value");
    else if (a.startsWith("--role=")) role = a.slice(7);
    else if (a === "--ttl") ttl = args[++i] ?? fail("--ttl needs a value");
    else if (a.startsWith("--ttl=")) ttl = a.slice(6);
    else if (a.startsWith("-")) fail(`Unknown option "${a}"\n\n${USAGE}`);
    else if (!username) username = a;
    else fail(`Unexpected argument "${a}"`);
  }
  if (!username) fail(`token needs a username\n\n${USAGE}`);
  if (!["trader", "admin", "compliance"].includes(role)) {
    fail(`Cannot use role "${role}": choose trader, admin or compliance`);
  }
  // Default: 12 hours, or JWT_MAX_TTL when that is shorter.
  let ttlSeconds = Math.min(12 * 3600, config.jwt.maxTtlSeconds);
  try {
    if (ttl !== undefined) ttlSeconds = parseTtl(ttl);
  } catch (e) {
    fail((e as Error).message);
  }
  if (ttlSeconds > config.jwt.maxTtlSeconds) {
    fail(
      `Cannot sign a token valid for "${ttl}": the maximum is "${
        formatTtl(config.jwt.maxTtlSeconds)
      }" (JWT_MAX_TTL)`,
    );
  }
  const secret = await loadJwtSecret(config.jwt.secret, config.dataDir);
  try {
    const token = await signToken({ username, role: role as "trader" }, {
      secret,
      issuer: config.jwt.issuer,
      audience: config.jwt.audience,
      ttlSeconds,
      maxTtlSeconds: config.jwt.maxTtlSeconds,
    });
    console.log(token);
  } catch (e) {
    fail((e as Error).message);
  }
}

async function auditCommand(config: Config, args: string[]): Promise<void> {
  if (args[0] !== "verify" && args[0] !== "checkpoint") {
    fail(`audit needs a subcommand: ${AUDIT_USAGE}`);
  }
  const db = await open(config);
  const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
  let result;
  try {
    result = await runAuditCommand(owner, args, { now: Date.now });
  } finally {
    await owner.end();
    await db.close();
  }
  if (result.stdout) console.log(result.stdout.replace(/\n$/, ""));
  if (result.stderr) console.error(result.stderr.replace(/\n$/, ""));
  if (result.code !== 0) Deno.exit(result.code);
}

async function apiKeyCommand(config: Config, args: string[]): Promise<void> {
  const db = await open(config);
  const owner = postgres(db.ownerUrl, { max: 1, onnotice: () => {} });
  let result;
  try {
    result = await runApiKeyCommand(owner, args);
  } finally {
    await owner.end();
    await db.close();
  }
  if (result.stdout) console.log(result.stdout.replace(/\n$/, ""));
  if (result.stderr) console.error(result.stderr.replace(/\n$/, ""));
  if (result.code !== 0) Deno.exit(result.code);
}

async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  if (command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return;
  }
  let config: Config;
  try {
    const { env, file } = readEnvironment();
    config = loadConfig(env, { envFile: file });
  } catch (e) {
    if (e instanceof ConfigError) fail(`Cannot start: ${e.message}`);
    throw e;
  }
  await configureLogging({ level: config.logLevel, format: config.logFormat });
  switch (command) {
    case "serve":
    case "start":
      return await serve(config);
    case "migrate": {
      const db = await open(config);
      console.log("Migrations are current");
      await db.close();
      return;
    }
    case "token":
      return await tokenCommand(config, rest);
    case "apikey":
      return await apiKeyCommand(config, rest);
    case "audit":
      return await auditCommand(config, rest);
    default:
      fail(`Unknown command "${command}"\n\n${USAGE}`);
  }
}

if (import.meta.main) {
  try {
    await main(Deno.args);
  } catch (e) {
    const err = e as Error;
    logger("engine").fatal("{name}: {message}", { name: err.name, message: err.message });
    console.error(`tradewind: ${err.message}`);
    Deno.exit(1);
  }
}
