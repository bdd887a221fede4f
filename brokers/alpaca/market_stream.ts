/**
 * Tradewind's client for Alpaca's market-data stream (`wss://stream.data.alpaca.markets/v2/{feed}`,
 * ALPACA.md §7.2) on Deno's WebSocket: the socket shell around the pure
 * {@link MarketSession} of `market_protocol.ts`.
 *
 * One {@link AlpacaMarketStream} is one connection to one feed (Alpaca allows one per feed
 * and key: a second gets 406), shared by any number of listeners; Alpaca is sent the union of
 * their subscriptions and told to unsubscribe a symbol when its last listener leaves. It
 * speaks msgpack (asked for with `Content-Type: application/msgpack` on the upgrade, as the
 * SDK does) or JSON, reconnects with exponential backoff and jitter, resubscribes, and fills
 * the bars missed while disconnected from REST, so a bar listener sees every minute once, in
 * order. `AlpacaVenue.marketData.subscribe` is {@link AlpacaMarketStream.subscribe}.
 *
 * @example
 * ```ts
 * const stream = new AlpacaMarketStream({
 *   url: "wss://stream.data.alpaca.markets/v2/iex", keyId, secret,
 *   fillGap: barsGapFiller(marketData),
 * });
 * const stop = stream.subscribe({ bars: ["AAPL"] }, (events) => console.log(events));
 * ```
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { type Clock, SystemClock } from "../../core/clock.ts";
import { logger } from "../../logging.ts";
import type { MarketData, Unsubscribe } from "../broker.ts";
import type { Bar, MarketEvent, MarketSubscription } from "../../core/market.ts";
import type { BackoffOptions } from "./_backoff.ts";
import { decodeFrame, encodeFrame, type StreamCodec } from "./_codec.ts";
import { ReconnectingSocket } from "./_socket.ts";
import {
  type MarketEffect,
  MarketSession,
  normalizeSubscription,
  wants,
} from "./market_protocol.ts";

/**
 * The market-data stream URL of a feed (`iex`, `sip`, `delayed_sip`, `test`) under a versioned
 * base: Alpaca's by default, or a proxy's or a Tradewind's (`http(s)://` becomes `ws(s)://`).
 *
 * @example
 * ```ts
 * alpacaMarketStreamUrl("iex"); // "wss://stream.data.alpaca.markets/v2/iex"
 * alpacaMarketStreamUrl("iex", "http://127.0.0.1:8080/v2"); // "ws://127.0.0.1:8080/v2/iex"
 * ```
 */
export function alpacaMarketStreamUrl(
  feed: string,
  base = "wss://stream.data.alpaca.markets/v2",
): string {
  return `${base.replace(/^http/, "ws").replace(/\/+$/, "")}/${feed}`;
}

/** Fetches the minute bars of `symbol` from `fromMs` to `toMs` (inclusive, epoch ms). */
export type GapFiller = (symbol: string, fromMs: number, toMs: number) => Promise<Bar[]>;

/** Options of {@link AlpacaMarketStream}. */
export interface AlpacaMarketStreamOptions {
  /** The feed's full URL, e.g. `wss://stream.data.alpaca.markets/v2/iex` or a proxy's. */
  url: string;
  keyId: string;
  secret: string;
  /** Wire format; default `msgpack` (Alpaca's, and the SDK's). */
  codec?: StreamCodec;
  /** Source of now and of reconnect timers; default the system clock. */
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Fills the bars missed while disconnected; without it a gap stays a gap (logged). */
  fillGap?: GapFiller;
  /** Alpaca must authenticate this soon after the socket opens, else reconnect. Default 15 s. */
  authTimeoutMs?: number;
  /** Reconnect when nothing arrives this long (a dead link); default off. */
  idleTimeoutMs?: number;
  log?: Logger;
}

/** The stream's state, as {@link AlpacaMarketStream.onStatus} reports it. */
export interface MarketStreamStatus {
  state: "idle" | "connecting" | "authenticating" | "live" | "waiting" | "failed" | "closed";
  /** Alpaca's error code, on `failed` (and on a refused subscribe). */
  code?: number;
  message?: string;
  /** On `waiting`: the delay before the next attempt, and which attempt it is. */
  delayMs?: number;
  attempt?: number;
  /** On `live`: whether this is a reconnect. */
  reconnected?: boolean;
}

interface Listener {
  sub: Required<MarketSubscription>;
  fn: (events: MarketEvent[]) => void;
}

/** Feeds held by a stream of this process: Alpaca allows one connection per feed. */
const heldFeeds = new Set<string>();

/** A shared, reconnecting market-data connection to one Alpaca feed. See the module doc. */
export class AlpacaMarketStream {
  readonly #options: AlpacaMarketStreamOptions;
  readonly #clock: Clock;
  readonly #codec: StreamCodec;
  readonly #log: Logger;
  readonly #session: MarketSession;
  readonly #socket: ReconnectingSocket;
  readonly #listeners = new Set<Listener>();
  readonly #statusListeners = new Set<(s: MarketStreamStatus) => void>();
  readonly #feedKey: string;
  #status: MarketStreamStatus = { state: "idle" };
  #started = false;
  #fills: Promise<void> = Promise.resolve();

  /** @throws {TypeError} when the URL is not ws:// or wss://, or a credential is empty. */
  constructor(options: AlpacaMarketStreamOptions) {
    if (!options.keyId || !options.secret) {
      throw new TypeError(`Cannot stream "${options.url}": the key id and secret are required`);
    }
    this.#options = options;
    this.#clock = options.clock ?? new SystemClock();
    this.#codec = options.codec ?? "msgpack";
    this.#log = options.log ?? logger("alpaca", "market_stream");
    this.#session = new MarketSession(
      { key: options.keyId, secret: options.secret },
      { gapFill: !!options.fillGap },
    );
    this.#socket = new ReconnectingSocket({
      url: options.url,
      headers: this.#codec === "msgpack" ? { "Content-Type": "application/msgpack" } : undefined,
      clock: this.#clock,
      backoff: options.backoff,
      handshakeTimeoutMs: options.authTimeoutMs ?? 15_000,
      ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    });
    this.#feedKey = `${options.url} ${options.keyId}`;
  }

  /** The current state. */
  get status(): MarketStreamStatus {
    return this.#status;
  }

  /** The union of every listener's subscription (what Alpaca is asked to stream). */
  get subscription(): Required<MarketSubscription> {
    return this.#session.wanted;
  }

  /** What Alpaca last confirmed it streams. */
  get confirmed(): Required<MarketSubscription> {
    return this.#session.confirmed;
  }

  /** Reports every state change (and refused subscribes); answers a stop function. */
  onStatus(fn: (status: MarketStreamStatus) => void): Unsubscribe {
    this.#statusListeners.add(fn);
    return () => this.#statusListeners.delete(fn);
  }

  /**
   * Connects (once; {@link subscribe} does it for you).
   *
   * @throws {Error} when another stream of this process holds the same feed and key, or once
   *   the stream is closed.
   */
  start(): void {
    if (this.#status.state === "closed") {
      throw new Error(`Cannot start stream "${this.#options.url}": it was closed`);
    }
    if (this.#started) return;
    if (heldFeeds.has(this.#feedKey)) {
      throw new Error(
        `Cannot open a second stream to "${this.#options.url}": Alpaca allows one connection per feed; share the first`,
      );
    }
    heldFeeds.add(this.#feedKey);
    this.#started = true;
    this.#socket.start({
      opened: () => {
        this.#setStatus({ state: "authenticating" });
        this.#apply(this.#session.opened());
      },
      message: (data) => this.#onFrame(data),
      closed: (reason) => {
        this.#apply(this.#session.closed());
        if (this.#status.state !== "failed" && this.#status.state !== "closed") {
          this.#log.warning("Alpaca market-data stream {url} lost: {reason}", {
            url: this.#options.url,
            reason,
          });
        }
      },
      waiting: (delayMs, attempt) => this.#setStatus({ state: "waiting", delayMs, attempt }),
    });
    if (this.#socket.state === "connecting") this.#setStatus({ state: "connecting" });
  }

  /**
   * Listens to `subscription` (symbols or `*` per channel); `listener` gets, in time order,
   * only the events it asked for. Starts the connection on first use.
   *
   * @throws {Error} from {@link start}.
   */
  subscribe(
    subscription: MarketSubscription,
    listener: (events: MarketEvent[]) => void,
  ): Unsubscribe {
    this.start();
    const entry: Listener = { sub: normalizeSubscription(subscription), fn: listener };
    this.#listeners.add(entry);
    this.#apply(this.#session.addListener(entry.sub, this.#clock.now()));
    let active = true;
    return () => {
      if (!active) return;
      active = false;
      this.#listeners.delete(entry);
      this.#apply(this.#session.removeListener(entry.sub));
    };
  }

  /** Closes the connection for good and frees the feed. */
  async close(): Promise<void> {
    if (this.#status.state === "closed") return;
    this.#setStatus({ state: "closed" });
    this.#listeners.clear();
    await this.#socket.close();
    if (this.#started) heldFeeds.delete(this.#feedKey);
  }

  #onFrame(data: string | ArrayBuffer): void {
    let items: unknown;
    try {
      items = decodeFrame(data);
    } catch (e) {
      this.#log.error("Cannot read a frame of Alpaca market-data stream {url}: {error}", {
        url: this.#options.url,
        error: (e as Error).message,
      });
      return;
    }
    this.#apply(this.#session.received(items, this.#clock.now()));
  }

  #apply(effects: MarketEffect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case "send":
          this.#socket.send(encodeFrame(effect.frame, this.#codec));
          break;
        case "deliver":
          this.#deliver(effect.events);
          break;
        case "live":
          this.#socket.healthy();
          this.#setStatus({ state: "live", reconnected: effect.reconnected });
          this.#log.info("Alpaca market-data stream {url} authenticated{again}", {
            url: this.#options.url,
            again: effect.reconnected ? " again; resubscribing" : "",
          });
          break;
        case "subscribed":
          break;
        case "refused":
          this.#log.error("Alpaca refused to stream {subscription}: {message}", {
            subscription: effect.subscription,
            message: effect.message,
          });
          this.#emit({ ...this.#status, code: effect.code, message: effect.message });
          break;
        case "fill_gap":
          this.#fill(effect.symbol, effect.fromMs, effect.toMs);
          break;
        case "drop":
          this.#log.warning("{message}: reconnecting", { message: effect.message });
          if (effect.code === 406) {
            this.#log.error(
              "Another connection holds Alpaca feed {url} for this key (406): stop the other program or give Tradewind its own key",
              { url: this.#options.url },
            );
          }
          this.#socket.drop(effect.message);
          break;
        case "fatal":
          this.#log.error(
            "Alpaca market-data stream {url} stopped: {message}. Check APCA key id {keyHint} and the plan's feed; not reconnecting",
            { url: this.#options.url, message: effect.message, keyHint: hint(this.#options.keyId) },
          );
          this.#socket.fail(effect.message);
          this.#setStatus({ state: "failed", code: effect.code, message: effect.message });
          break;
        case "warn":
          this.#log.warning("{message}", { message: effect.message });
          break;
      }
    }
  }

  /** Runs gap fills one at a time, so a reconnect does not burst the shared REST budget. */
  #fill(symbol: string, fromMs: number, toMs: number): void {
    this.#fills = this.#fills.then(() => this.#fillOne(symbol, fromMs, toMs)).catch((e) =>
      this.#log.error("A gap fill failed: {error}", { error: String(e) })
    );
  }

  #fillOne(symbol: string, fromMs: number, toMs: number): Promise<void> {
    const fill = this.#options.fillGap;
    if (!fill || this.#status.state === "closed") return Promise.resolve();
    return Promise.resolve().then(() => fill(symbol, fromMs, toMs)).then(
      (bars) => this.#apply(this.#session.gapFilled(symbol, bars, this.#clock.now())),
      (e) => {
        this.#log.error(
          "Cannot fill the {symbol} bars missed from {from} to {to}: {error}; those minutes are missing",
          {
            symbol,
            from: new Date(fromMs).toISOString(),
            to: new Date(toMs).toISOString(),
            error: String(e),
          },
        );
        this.#apply(this.#session.gapFailed(symbol));
      },
    );
  }

  #deliver(events: MarketEvent[]): void {
    for (const l of [...this.#listeners]) {
      const mine = events.filter((e) => wants(l.sub, e));
      if (!mine.length) continue;
      try {
        l.fn(mine);
      } catch (e) {
        this.#log.error("A market-data listener failed: {error}", { error: String(e) });
      }
    }
  }

  #setStatus(status: MarketStreamStatus): void {
    if (this.#status.state === "closed") return;
    if (this.#status.state === "failed" && status.state !== "closed") return;
    this.#status = status;
    this.#emit(status);
  }

  #emit(status: MarketStreamStatus): void {
    for (const fn of [...this.#statusListeners]) fn(status);
  }
}

/** The first four characters of a key id: enough to tell keys apart, never the secret. */
function hint(keyId: string): string {
  return keyId.length > 4 ? `${keyId.slice(0, 4)}…` : "…";
}

/**
 * A {@link GapFiller} over a venue's {@link MarketData.bars}: pages through the minute bars of
 * the gap, in ascending time.
 */
export function barsGapFiller(marketData: Pick<MarketData, "bars">): GapFiller {
  return async (symbol, fromMs, toMs) => {
    const out: Bar[] = [];
    let pageToken: string | undefined;
    do {
      const page = await marketData.bars(symbol, {
        timeframe: "1Min",
        start: fromMs,
        end: toMs,
        limit: 10_000,
        sort: "asc",
        ...(pageToken ? { pageToken } : {}),
      });
      out.push(...page.bars);
      pageToken = page.next_page_token ?? undefined;
    } while (pageToken);
    return out;
  };
}
