/**
 * Tradewind's client for Alpaca's trading stream (`wss://paper-api.alpaca.markets/stream`,
 * ALPACA.md §7.1) on Deno's WebSocket: authenticate, listen to `trade_updates`, hand every
 * event (converted to a {@link TradeUpdate}) to the listeners in order, and after any drop
 * reconnect with backoff, listen again and call `onReconnected()` so the engine reconciles
 * (what happened while disconnected is found by reconciliation, not replayed by Alpaca).
 *
 * {@link TradeSession} is the protocol as a pure state machine; {@link AlpacaTradeStream}
 * hosts it on a socket. `AlpacaBroker.onTradeUpdate` is {@link AlpacaTradeStream.onTradeUpdate}.
 *
 * @module
 */
import type { Logger } from "@logtape/logtape";
import { type Clock, SystemClock } from "../../core/clock.ts";
import { logger } from "../../logging.ts";
import type { Unsubscribe } from "../broker.ts";
import type { TradeUpdate } from "../../core/account.ts";
import type { BackoffOptions } from "./_backoff.ts";
import { decodeFrame } from "./_codec.ts";
import { ReconnectingSocket } from "./_socket.ts";
import { TradeUpdateError, tradeUpdateFromAlpaca } from "./trade_update.ts";

/**
 * The trading stream URL: Alpaca's paper one unless `live`, or `/stream` under a trading base
 * URL (a proxy or a Tradewind; `http(s)://` becomes `ws(s)://`).
 *
 * @example
 * ```ts
 * alpacaTradeStreamUrl({ live: false }); // "wss://paper-api.alpaca.markets/stream"
 * alpacaTradeStreamUrl({ base: "http://127.0.0.1:8080" }); // "ws://127.0.0.1:8080/stream"
 * ```
 */
export function alpacaTradeStreamUrl(options: { live?: boolean; base?: string } = {}): string {
  const base = options.base ??
    (options.live ? "https://api.alpaca.markets" : "https://paper-api.alpaca.markets");
  return `${base.replace(/^http/, "ws").replace(/\/+$/, "")}/stream`;
}

/** What the shell must do. */
export type TradeEffect =
  | { kind: "send"; frame: Record<string, unknown> }
  | { kind: "update"; update: TradeUpdate }
  /** Listening to `trade_updates`; after a reconnect the engine must reconcile. */
  | { kind: "live"; reconnected: boolean }
  | { kind: "fatal"; message: string }
  | { kind: "warn"; message: string; payload?: unknown };

/** Where a {@link TradeSession} is. */
export type TradePhase = "offline" | "authenticating" | "listening" | "live" | "failed";

/** How many fill execution ids are remembered to drop a replayed fill. */
const SEEN_EXECUTIONS = 10_000;

/** The trading-stream protocol, pure: inputs in, effects out. */
export class TradeSession {
  readonly #auth: { key: string; secret: string };
  #phase: TradePhase = "offline";
  #lives = 0;
  readonly #seen = new Set<string>();

  constructor(auth: { key: string; secret: string }) {
    this.#auth = auth;
  }

  /** The session's phase. */
  get phase(): TradePhase {
    return this.#phase;
  }

  /** A new connection: authenticate at once (the trading stream sends no greeting). */
  opened(): TradeEffect[] {
    if (this.#phase === "failed") return [];
    this.#phase = "authenticating";
    return [{ kind: "send", frame: { action: "auth", ...this.#auth } }];
  }

  /** The connection is gone. */
  closed(): TradeEffect[] {
    if (this.#phase !== "failed") this.#phase = "offline";
    return [];
  }

  /** One decoded inbound frame (an object, or an array of them). */
  received(frame: unknown): TradeEffect[] {
    const out: TradeEffect[] = [];
    for (const msg of Array.isArray(frame) ? frame : [frame]) out.push(...this.#one(msg));
    return out;
  }

  #one(msg: unknown): TradeEffect[] {
    if (!isRecord(msg)) {
      return [{ kind: "warn", message: "Ignored a non-object frame", payload: msg }];
    }
    const data = isRecord(msg.data) ? msg.data : {};
    if (msg.stream === "authorization") {
      if (data.status === "authorized") {
        if (this.#phase !== "authenticating") return [];
        this.#phase = "listening";
        return [{
          kind: "send",
          frame: { action: "listen", data: { streams: ["trade_updates"] } },
        }];
      }
      this.#phase = "failed";
      return [{
        kind: "fatal",
        message: `Alpaca trading stream answered "${String(data.status)}" to ${
          String(data.action ?? "auth")
        }`,
      }];
    }
    if (msg.stream === "listening") {
      const streams = Array.isArray(data.streams) ? data.streams : [];
      if (!streams.includes("trade_updates")) {
        return [{ kind: "warn", message: "Alpaca is not streaming trade_updates", payload: msg }];
      }
      if (this.#phase !== "listening") return [];
      this.#phase = "live";
      this.#lives++;
      return [{ kind: "live", reconnected: this.#lives > 1 }];
    }
    if (msg.stream === "trade_updates") {
      try {
        const update = tradeUpdateFromAlpaca(msg.data);
        if (update.execution_id) {
          if (this.#seen.has(update.execution_id)) {
            return [{
              kind: "warn",
              message: `Dropped a repeated fill, execution "${update.execution_id}"`,
            }];
          }
          this.#seen.add(update.execution_id);
          if (this.#seen.size > SEEN_EXECUTIONS) {
            this.#seen.delete(this.#seen.values().next().value as string);
          }
        }
        return [{ kind: "update", update }];
      } catch (e) {
        if (!(e instanceof TradeUpdateError)) throw e;
        return [{ kind: "warn", message: e.message, payload: e.payload }];
      }
    }
    if (msg.action === "error" || msg.stream === "error") {
      const text = typeof data.error_message === "string" ? data.error_message : preview(msg);
      return [{ kind: "warn", message: `Alpaca trading stream error: ${text}` }];
    }
    return [{ kind: "warn", message: "Ignored an unknown trading-stream frame", payload: msg }];
  }
}

/** Options of {@link AlpacaTradeStream}. */
export interface AlpacaTradeStreamOptions {
  /** Full URL, e.g. `wss://paper-api.alpaca.markets/stream` or a proxy's. */
  url: string;
  keyId: string;
  secret: string;
  /** Called after each reconnect once listening again: reconcile with the venue. */
  onReconnected?: () => void | Promise<void>;
  clock?: Clock;
  backoff?: BackoffOptions;
  /** Alpaca must authorize and ack the listen this soon after opening. Default 15 s. */
  authTimeoutMs?: number;
  /** Reconnect when nothing arrives this long (a dead link); default off. */
  idleTimeoutMs?: number;
  log?: Logger;
}

/** The stream's state, as {@link AlpacaTradeStream.onStatus} reports it. */
export interface TradeStreamStatus {
  state: "idle" | "connecting" | "authenticating" | "live" | "waiting" | "failed" | "closed";
  message?: string;
  delayMs?: number;
  attempt?: number;
  reconnected?: boolean;
}

/** A reconnecting `trade_updates` client. See the module doc. */
export class AlpacaTradeStream {
  readonly #options: AlpacaTradeStreamOptions;
  readonly #log: Logger;
  readonly #session: TradeSession;
  readonly #socket: ReconnectingSocket;
  readonly #listeners = new Set<(update: TradeUpdate) => void>();
  readonly #statusListeners = new Set<(s: TradeStreamStatus) => void>();
  #status: TradeStreamStatus = { state: "idle" };
  #started = false;

  /** @throws {TypeError} when the URL is not ws:// or wss://, or a credential is empty. */
  constructor(options: AlpacaTradeStreamOptions) {
    if (!options.keyId || !options.secret) {
      throw new TypeError(`Cannot stream "${options.url}": the key id and secret are required`);
    }
    this.#options = options;
    this.#log = options.log ?? logger("alpaca", "trade_stream");
    this.#session = new TradeSession({ key: options.keyId, secret: options.secret });
    this.#socket = new ReconnectingSocket({
      url: options.url,
      clock: options.clock ?? new SystemClock(),
      backoff: options.backoff,
      handshakeTimeoutMs: options.authTimeoutMs ?? 15_000,
      ...(options.idleTimeoutMs ? { idleTimeoutMs: options.idleTimeoutMs } : {}),
    });
  }

  /** The current state. */
  get status(): TradeStreamStatus {
    return this.#status;
  }

  /** Reports every state change; answers a stop function. */
  onStatus(fn: (status: TradeStreamStatus) => void): Unsubscribe {
    this.#statusListeners.add(fn);
    return () => this.#statusListeners.delete(fn);
  }

  /** Connects (once; {@link onTradeUpdate} does it for you). @throws {Error} once closed. */
  start(): void {
    if (this.#status.state === "closed") {
      throw new Error(`Cannot start stream "${this.#options.url}": it was closed`);
    }
    if (this.#started) return;
    this.#started = true;
    this.#socket.start({
      opened: () => {
        this.#setStatus({ state: "authenticating" });
        this.#apply(this.#session.opened());
      },
      message: (data) => {
        let frame: unknown;
        try {
          frame = decodeFrame(data);
        } catch (e) {
          this.#log.error("Cannot read a frame of Alpaca trading stream {url}: {error}", {
            url: this.#options.url,
            error: (e as Error).message,
          });
          return;
        }
        this.#apply(this.#session.received(frame));
      },
      closed: (reason) => {
        this.#apply(this.#session.closed());
        if (this.#status.state !== "failed" && this.#status.state !== "closed") {
          this.#log.warning("Alpaca trading stream {url} lost: {reason}", {
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
   * Listens to trade updates, in the order Alpaca sent them; starts the connection.
   *
   * @throws {Error} once the stream is closed.
   */
  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe {
    this.#listeners.add(listener);
    this.start();
    return () => this.#listeners.delete(listener);
  }

  /** Closes for good. */
  async close(): Promise<void> {
    if (this.#status.state === "closed") return;
    this.#setStatus({ state: "closed" });
    this.#listeners.clear();
    await this.#socket.close();
  }

  #apply(effects: TradeEffect[]): void {
    for (const effect of effects) {
      switch (effect.kind) {
        case "send":
          this.#socket.send(JSON.stringify(effect.frame));
          break;
        case "update":
          for (const fn of [...this.#listeners]) {
            try {
              fn(effect.update);
            } catch (e) {
              this.#log.error(
                "A trade-update listener failed on {event} of order {orderId}: {error}",
                {
                  event: effect.update.event,
                  orderId: effect.update.order.id,
                  error: String(e),
                },
              );
            }
          }
          break;
        case "live":
          this.#socket.healthy();
          this.#setStatus({ state: "live", reconnected: effect.reconnected });
          if (effect.reconnected) this.#reconnected();
          break;
        case "fatal":
          this.#log.error(
            "{message}: check the APCA key id {keyHint} and its secret; not reconnecting",
            { message: effect.message, keyHint: hint(this.#options.keyId) },
          );
          this.#socket.fail(effect.message);
          this.#setStatus({ state: "failed", message: effect.message });
          break;
        case "warn":
          this.#log.warning("{message} {payload}", {
            message: effect.message,
            payload: effect.payload === undefined ? "" : preview(effect.payload),
          });
          break;
      }
    }
  }

  #reconnected(): void {
    this.#log.info("Alpaca trading stream {url} listening again: reconciling", {
      url: this.#options.url,
    });
    const hook = this.#options.onReconnected;
    if (!hook) return;
    Promise.resolve().then(hook).catch((e) =>
      this.#log.error("Reconciliation after the trading stream reconnected failed: {error}", {
        error: String(e),
      })
    );
  }

  #setStatus(status: TradeStreamStatus): void {
    if (this.#status.state === "closed") return;
    if (this.#status.state === "failed" && status.state !== "closed") return;
    this.#status = status;
    for (const fn of [...this.#statusListeners]) fn(status);
  }
}

function hint(keyId: string): string {
  return keyId.length > 4 ? `${keyId.slice(0, 4)}…` : "…";
}

function preview(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
