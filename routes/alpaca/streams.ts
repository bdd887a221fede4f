/**
 * The Alpaca face's WebSocket streams, on the same port as everything else:
 *
 * - `GET /stream`: the trading stream (`trade_updates`), see `_trade_stream.ts`. Mounted only
 *   when the engine has a {@link StreamHub}, the source of its order events.
 * - `GET /v2/iex`, `/v2/sip`, `/v2/delayed_sip`, `/v2/test`: the market-data stream, see
 *   `_market_stream.ts`. Every feed carries the venue's one market.
 *
 * Both authenticate in-band (an auth message; the market-data stream also takes the
 * `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY` headers of the upgrade), so they are mounted
 * before the face's header middleware. A request that is not a WebSocket upgrade gets a 426.
 *
 * Framing: an upgrade carrying `Content-Type: application/msgpack` (as the official SDK's
 * market-data client sends) is answered in msgpack binary frames and may send msgpack; any
 * other client gets JSON text frames and may send JSON as text or binary.
 *
 * @module
 */
import { Hono } from "hono";
import type { Context, Env } from "hono";
import { decode, encode } from "@msgpack/msgpack";
import type { Sql } from "postgres";
import type { StreamHub, StreamUser } from "../../actors/stream_hub.ts";
import { verifyApiKey } from "../../db/api_keys.ts";
import type { TradingDeps } from "../app.ts";
import { AlpacaApiError, alpacaErrorResponse } from "./errors.ts";
import { FeedSlots, MarketStreamSession } from "./_market_stream.ts";
import { type FrameSink, TradeStreamSession } from "./_trade_stream.ts";

/** The market-data feeds served at `/v2/{feed}`. */
export const STREAM_FEEDS = ["iex", "sip", "delayed_sip", "test"] as const;

/** Limits of the face's streams; defaults suit production. */
export interface AlpacaStreamOptions {
  /** Market data: time from open to a completed auth (Alpaca: about 10 s). */
  authTimeoutMs?: number;
  /** Market data: distinct symbols per connection. Default: the hub's `maxSymbols`, or 100. */
  maxSymbols?: number;
  /** Unsent bytes before a connection is dropped as a slow client (1 MiB). */
  maxBufferedBytes?: number;
  /** Trading stream: order events waiting to be written before the connection is closed. */
  maxPendingEvents?: number;
}

/** What the streams need from the face's deps. */
export interface AlpacaStreamDeps {
  sql: Sql;
  trading: Pick<TradingDeps, "engine" | "marketData">;
  stream?: StreamHub;
  streamOptions?: AlpacaStreamOptions;
}

const MSGPACK = "application/msgpack";

/** A socket writer in the client's codec. */
function frameSink(socket: WebSocket, msgpack: boolean): FrameSink {
  return {
    send(message: unknown) {
      if (socket.readyState !== WebSocket.OPEN) return;
      socket.send(msgpack ? encode(message) : JSON.stringify(message));
    },
    close(code: number, reason: string) {
      if (socket.readyState >= WebSocket.CLOSING) return;
      try {
        socket.close(code, reason);
      } catch {
        // Already closing.
      }
    },
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
  };
}

/** Decodes a client frame; undefined when it is neither JSON nor (for msgpack clients) msgpack. */
function decodeFrame(data: unknown, msgpack: boolean): unknown {
  try {
    if (typeof data === "string") return JSON.parse(data);
    const bytes = data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : data instanceof Uint8Array
      ? data
      : null;
    if (bytes === null) return undefined;
    if (msgpack) {
      try {
        return decode(bytes);
      } catch {
        // Some clients send JSON even after asking for msgpack replies.
      }
    }
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return undefined;
  }
}

function requireUpgrade(c: Context): void {
  if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
    throw new AlpacaApiError(
      426,
      42610000,
      `GET ${c.req.path} is a WebSocket: connect with a WebSocket client`,
    );
  }
}

/**
 * Builds the face's stream routes: `/stream` (with a hub) and `/v2/{feed}`. Mount it before
 * the `/v2` header middleware.
 */
export function alpacaStreamRoutes<E extends Env>(deps: AlpacaStreamDeps): Hono<E> {
  const app = new Hono<E>();
  app.onError((err, c) => alpacaErrorResponse(c, err));
  const options = deps.streamOptions ?? {};
  const slots = new FeedSlots();
  const verify = async (keyId: string, secret: string): Promise<StreamUser | null> => {
    const user = await verifyApiKey(deps.sql, keyId, secret);
    return user ? { id: user.id, username: user.username, role: user.role } : null;
  };
  const hub = deps.stream;

  if (hub) {
    app.get("/stream", (c) => {
      requireUpgrade(c);
      const msgpack = c.req.header("content-type")?.toLowerCase().startsWith(MSGPACK) ?? false;
      const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
      socket.binaryType = "arraybuffer";
      const session = new TradeStreamSession({
        sql: deps.sql,
        hub,
        verify,
        orderView: (tenant, id) => deps.trading.engine.orderView(tenant, id),
        maxPending: options.maxPendingEvents ?? hub.limits.bufferSize,
        maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
      }, frameSink(socket, msgpack));
      socket.onmessage = (e) => {
        session.receive(decodeFrame(e.data, msgpack)).catch(() => session.close());
      };
      socket.onclose = () => session.close();
      socket.onerror = () => session.close();
      return response;
    });
  }

  for (const feed of STREAM_FEEDS) {
    app.get(`/v2/${feed}`, (c) => {
      requireUpgrade(c);
      const msgpack = c.req.header("content-type")?.toLowerCase().startsWith(MSGPACK) ?? false;
      const headerKey = c.req.header("apca-api-key-id") ?? null;
      const headerSecret = c.req.header("apca-api-secret-key") ?? null;
      const { socket, response } = Deno.upgradeWebSocket(c.req.raw);
      socket.binaryType = "arraybuffer";
      const session = new MarketStreamSession({
        feed,
        marketData: deps.trading.marketData,
        verify,
        slots,
        maxSymbols: options.maxSymbols ?? hub?.limits.maxSymbols ?? 100,
        authTimeoutMs: options.authTimeoutMs ?? 10_000,
        maxBufferedBytes: options.maxBufferedBytes ?? 1024 * 1024,
        msgpack,
      }, frameSink(socket, msgpack));
      socket.onopen = () => {
        session.open(headerKey, headerSecret).catch(() => session.close());
      };
      socket.onmessage = (e) => {
        session.receive(decodeFrame(e.data, msgpack)).catch(() => session.close());
      };
      socket.onclose = () => session.close();
      socket.onerror = () => session.close();
      return response;
    });
  }
  return app;
}
