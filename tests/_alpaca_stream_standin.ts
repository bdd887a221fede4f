/**
 * A stand-in for Alpaca's stream servers (which tests cannot reach), served on port 0 by
 * Deno.serve + Deno.upgradeWebSocket: the market-data protocol on `/v2/{feed}` (msgpack when
 * the upgrade asks with `Content-Type: application/msgpack`, else JSON; connected,
 * auth, subscribe/unsubscribe with the full set echoed, errors 402/405/406/409) and the
 * trading protocol on `/stream` (auth in both the `auth` and the SDK's `authenticate` form,
 * listen, `trade_updates` as binary JSON frames by default). The test drives it: publish
 * data, inject error frames, drop every connection.
 *
 * @module
 */
import {
  decode,
  encode,
  encodeTimeSpecToTimestamp,
  EXT_TIMESTAMP,
  ExtData,
} from "@msgpack/msgpack";

/** One market-data connection as the stand-in sees it. */
export interface StandinMarketConn {
  feed: string;
  codec: "msgpack" | "json";
  key: string | null;
  subs: { trades: Set<string>; quotes: Set<string>; bars: Set<string> };
  socket: WebSocket;
}

/** One trading-stream connection. */
export interface StandinTradeConn {
  key: string | null;
  listening: boolean;
  socket: WebSocket;
}

/** Options of {@link serveAlpacaStreams}. */
export interface StandinOptions {
  /** Accepted key id → secret. Default `{ AKTEST: "stand-in-secret" }`. */
  credentials?: Record<string, string>;
  /** Most symbols (trades + quotes + bars, `*` excluded) per connection, else 405. */
  symbolLimit?: number;
  /** Symbols the plan does not cover: subscribing any of them answers 409. */
  insufficient?: string[];
  /** Feeds the plan does not cover: auth answers 409. */
  deniedFeeds?: string[];
  /** Trading stream: send `trade_updates` as text instead of Alpaca's binary frames. */
  textTradeFrames?: boolean;
}

/** The running stand-in. */
export interface AlpacaStreamStandin {
  /** `ws://127.0.0.1:{port}`. */
  wsBase: string;
  marketUrl(feed?: string): string;
  tradeUrl: string;
  /** Open market-data connections. */
  market: StandinMarketConn[];
  /** Open trading connections. */
  trading: StandinTradeConn[];
  /** Every frame received, decoded, with its path, oldest first. */
  received: { path: string; frame: Record<string, unknown> }[];
  /** Connections accepted so far, per path. */
  accepted: Record<string, number>;
  /** Sends data items to the authenticated connections of `feed` that subscribed to them. */
  publish(feed: string, items: Record<string, unknown>[]): void;
  /** Sends any items to every connection of `feed` (e.g. an error frame). */
  sendRaw(feed: string, items: Record<string, unknown>[]): void;
  /** Sends a `trade_updates` event to every listening trading connection. */
  tradeUpdate(data: Record<string, unknown>): void;
  /** Closes every connection from the server side (a network drop). */
  dropAll(): void;
  close(): Promise<void>;
}

const CHANNELS = ["trades", "quotes", "bars"] as const;
const CHANNEL_OF: Record<string, typeof CHANNELS[number]> = { t: "trades", q: "quotes", b: "bars" };

/** Serves the stand-in on port 0. */
export function serveAlpacaStreams(options: StandinOptions = {}): AlpacaStreamStandin {
  const credentials = options.credentials ?? { AKTEST: "stand-in-secret" };
  const market: StandinMarketConn[] = [];
  const trading: StandinTradeConn[] = [];
  const received: AlpacaStreamStandin["received"] = [];
  const accepted: Record<string, number> = {};

  const sendMarket = (conn: StandinMarketConn, items: Record<string, unknown>[]) => {
    if (conn.socket.readyState !== WebSocket.OPEN) return;
    if (conn.codec === "json") conn.socket.send(JSON.stringify(items));
    else conn.socket.send(encode(items.map(withTimestampExt)));
  };
  const subscription = (conn: StandinMarketConn) => ({
    T: "subscription",
    trades: [...conn.subs.trades],
    quotes: [...conn.subs.quotes],
    bars: [...conn.subs.bars],
    updatedBars: [],
    dailyBars: [],
    statuses: [],
    lulds: [],
    corrections: [...conn.subs.trades],
    cancelErrors: [...conn.subs.trades],
  });

  const onMarket = (conn: StandinMarketConn, msg: Record<string, unknown>) => {
    const error = (code: number, text: string) =>
      sendMarket(conn, [{ T: "error", code, msg: text }]);
    if (msg.action === "auth") {
      if (conn.key) return error(403, "already authenticated");
      const key = String(msg.key ?? "");
      if (!(key in credentials) || credentials[key] !== msg.secret) {
        error(402, "auth failed");
        return conn.socket.close();
      }
      if (options.deniedFeeds?.includes(conn.feed)) {
        error(409, "insufficient subscription");
        return conn.socket.close();
      }
      if (market.some((c) => c !== conn && c.key === key && c.feed === conn.feed)) {
        error(406, "connection limit exceeded");
        return conn.socket.close();
      }
      conn.key = key;
      return sendMarket(conn, [{ T: "success", msg: "authenticated" }]);
    }
    if (msg.action === "subscribe" || msg.action === "unsubscribe") {
      if (!conn.key) return error(401, "not authenticated");
      const lists: Record<string, string[]> = {};
      for (const ch of CHANNELS) {
        const v = msg[ch];
        if (v !== undefined && !(Array.isArray(v) && v.every((s) => typeof s === "string"))) {
          return error(400, "invalid syntax");
        }
        lists[ch] = (v as string[] | undefined) ?? [];
      }
      if (msg.action === "subscribe") {
        const all = CHANNELS.flatMap((ch) => lists[ch]!);
        if (all.some((s) => options.insufficient?.includes(s))) {
          return error(409, "insufficient subscription");
        }
        const after = new Set<string>();
        for (const ch of CHANNELS) {
          for (const s of [...conn.subs[ch], ...lists[ch]!]) if (s !== "*") after.add(`${ch}:${s}`);
        }
        if (options.symbolLimit !== undefined && after.size > options.symbolLimit) {
          return error(405, "symbol limit exceeded");
        }
        for (const ch of CHANNELS) for (const s of lists[ch]!) conn.subs[ch].add(s);
      } else {
        for (const ch of CHANNELS) for (const s of lists[ch]!) conn.subs[ch].delete(s);
      }
      return sendMarket(conn, [subscription(conn)]);
    }
    error(400, "invalid syntax");
  };

  const onTrade = (conn: StandinTradeConn, msg: Record<string, unknown>) => {
    const send = (m: unknown) => {
      if (conn.socket.readyState === WebSocket.OPEN) conn.socket.send(JSON.stringify(m));
    };
    const data = (msg.data ?? {}) as Record<string, unknown>;
    if (msg.action === "auth" || msg.action === "authenticate") {
      const key = String(msg.action === "auth" ? msg.key : data.key_id);
      const secret = msg.action === "auth" ? msg.secret : data.secret_key;
      const ok = key in credentials && credentials[key] === secret;
      send({
        stream: "authorization",
        data: { status: ok ? "authorized" : "unauthorized", action: "authenticate" },
      });
      if (ok) conn.key = key;
      else conn.socket.close();
      return;
    }
    if (msg.action === "listen") {
      if (!conn.key) {
        return send({
          stream: "authorization",
          data: { status: "unauthorized", action: "listen" },
        });
      }
      const streams = Array.isArray(data.streams) ? data.streams : [];
      conn.listening = streams.includes("trade_updates");
      return send({ stream: "listening", data: { streams } });
    }
    send({ action: "error", data: { error_message: "unknown action" } });
  };

  const server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (req.headers.get("upgrade") !== "websocket") {
      return new Response("not found", { status: 404 });
    }
    const feed = /^\/v2\/([a-z_]+)$/.exec(path)?.[1];
    if (path !== "/stream" && !feed) return new Response("not found", { status: 404 });
    accepted[path] = (accepted[path] ?? 0) + 1;
    const msgpack = req.headers.get("content-type") === "application/msgpack";
    const { socket, response } = Deno.upgradeWebSocket(req);
    socket.binaryType = "arraybuffer";
    const decodeIn = (data: unknown): Record<string, unknown> | null => {
      try {
        const v = typeof data === "string"
          ? JSON.parse(data)
          : decode(new Uint8Array(data as ArrayBuffer));
        return typeof v === "object" && v !== null ? v as Record<string, unknown> : null;
      } catch {
        return null;
      }
    };
    if (feed) {
      const conn: StandinMarketConn = {
        feed,
        codec: msgpack ? "msgpack" : "json",
        key: null,
        subs: { trades: new Set(), quotes: new Set(), bars: new Set() },
        socket,
      };
      socket.onopen = () => {
        market.push(conn);
        sendMarket(conn, [{ T: "success", msg: "connected" }]);
      };
      socket.onmessage = (e) => {
        const msg = decodeIn(e.data);
        if (!msg) return sendMarket(conn, [{ T: "error", code: 400, msg: "invalid syntax" }]);
        received.push({ path, frame: msg });
        onMarket(conn, msg);
      };
      socket.onclose = () => market.splice(market.indexOf(conn) >>> 0, 1);
    } else {
      const conn: StandinTradeConn = { key: null, listening: false, socket };
      socket.onopen = () => trading.push(conn);
      socket.onmessage = (e) => {
        const msg = decodeIn(e.data);
        if (!msg) return;
        received.push({ path, frame: msg });
        onTrade(conn, msg);
      };
      socket.onclose = () => trading.splice(trading.indexOf(conn) >>> 0, 1);
    }
    socket.onerror = () => {};
    return response;
  });
  const port = (server.addr as Deno.NetAddr).port;
  const wsBase = `ws://127.0.0.1:${port}`;

  return {
    wsBase,
    marketUrl: (feed = "iex") => `${wsBase}/v2/${feed}`,
    tradeUrl: `${wsBase}/stream`,
    market,
    trading,
    received,
    accepted,
    publish(feed, items) {
      for (const conn of market) {
        if (conn.feed !== feed || !conn.key) continue;
        const mine = items.filter((item) => {
          const ch = CHANNEL_OF[String(item.T)];
          return ch && (conn.subs[ch].has("*") || conn.subs[ch].has(String(item.S)));
        });
        if (mine.length) sendMarket(conn, mine);
      }
    },
    sendRaw(feed, items) {
      for (const conn of market) if (conn.feed === feed) sendMarket(conn, items);
    },
    tradeUpdate(data) {
      const text = JSON.stringify({ stream: "trade_updates", data });
      for (const conn of trading) {
        if (!conn.listening || conn.socket.readyState !== WebSocket.OPEN) continue;
        conn.socket.send(options.textTradeFrames ? text : new TextEncoder().encode(text));
      }
    },
    dropAll() {
      for (const conn of [...market, ...trading]) conn.socket.close(1012, "stand-in drop");
    },
    async close() {
      for (const conn of [...market, ...trading]) conn.socket.close();
      await server.shutdown();
    },
  };
}

/** `t` as a msgpack timestamp extension (nanoseconds kept), as Alpaca sends it. */
function withTimestampExt(item: Record<string, unknown>): Record<string, unknown> {
  if (typeof item.t !== "string") return item;
  const m = /^(.*?)(?:\.(\d+))?Z$/.exec(item.t);
  if (!m) return item;
  const sec = Math.floor(Date.parse(`${m[1]}Z`) / 1000);
  const nsec = Number((m[2] ?? "").padEnd(9, "0").slice(0, 9));
  return { ...item, t: new ExtData(EXT_TIMESTAMP, encodeTimeSpecToTimestamp({ sec, nsec })) };
}

/** An Alpaca Order JSON (ALPACA.md §3.2) with every key; `overrides` replace fields. */
export function alpacaOrderJson(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id: "61e69015-8549-4bfd-b9c3-01e75843f47d",
    client_order_id: "eb9e2aaa-f71a-4f51-b5b4-52a6c565dad4",
    created_at: "2026-11-23T15:00:00.123456789Z",
    updated_at: "2026-11-23T15:00:01.5Z",
    submitted_at: "2026-11-23T15:00:00.2Z",
    filled_at: null,
    expired_at: null,
    canceled_at: null,
    failed_at: null,
    replaced_at: null,
    replaced_by: null,
    replaces: null,
    asset_id: "b0b6dd9d-8b9b-48a9-ba46-b9d54906e415",
    symbol: "AAPL",
    asset_class: "us_equity",
    notional: null,
    qty: "10",
    filled_qty: "0",
    filled_avg_price: null,
    order_class: "",
    order_type: "limit",
    type: "limit",
    side: "buy",
    position_intent: "buy_to_open",
    time_in_force: "day",
    limit_price: "150.25",
    stop_price: null,
    status: "new",
    extended_hours: false,
    legs: null,
    trail_percent: null,
    trail_price: null,
    hwm: null,
    subtag: null,
    source: null,
    expires_at: "2026-11-23T21:00:00Z",
    ...overrides,
  };
}
