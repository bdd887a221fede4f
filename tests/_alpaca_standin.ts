/**
 * A small Alpaca stand-in for tests: Alpaca's trading and market-data REST shapes (shared
 * ALPACA.md §2–§6) served on a real socket (Deno.serve, port 0), backed by a real
 * {@link PaperVenue} account, so orders really match and fill. Alpaca's own servers are
 * unreachable here; this is the only fake, and it exists for what a real server cannot be made
 * to do on purpose: scripted faults ({@link StandinFault}) such as a 429 with rate-limit
 * headers, a 5xx, a submit that lands and never answers, a body that is not JSON.
 *
 * Every request is logged ({@link AlpacaStandin.requests}) so tests can count what reached
 * the server (for instance: exactly one `POST /v2/orders`).
 *
 * @example
 * ```ts
 * const standin = await serveAlpacaStandin({ venue });
 * standin.fault({ method: "POST", path: "/v2/orders", forward: true, hang: true });
 * // … point an AlpacaVenue at standin.url …
 * await standin.close();
 * ```
 *
 * @module
 */
import type { Broker, MarketData } from "../brokers/broker.ts";
import type { PaperVenue } from "../brokers/paper/venue.ts";
import { Decimal } from "../core/decimal.ts";
import { isTradeError } from "../core/errors.ts";
import { parseOrderRequest, parseReplaceRequest, toAlpacaJson } from "../core/order.ts";
import type { Order } from "../core/order.ts";
import type { Timeframe } from "../core/market.ts";

/** A scripted misbehaviour for requests matching `method` and `path`. */
export interface StandinFault {
  /** HTTP method; any when absent. */
  method?: string;
  /** Exact path, or a pattern on it. */
  path: string | RegExp;
  /** How many matching requests it applies to; default 1. */
  times?: number;
  /** Carry the request out on the paper account first (an order then exists). */
  forward?: boolean;
  /** Never answer (until {@link AlpacaStandin.close}). */
  hang?: boolean;
  /** Answer with this instead; `body` a string is sent as is (e.g. not JSON). */
  respond?: { status: number; body?: unknown; headers?: Record<string, string> };
}

/** One request the stand-in received. */
export interface StandinRequest {
  method: string;
  path: string;
  search: string;
}

/** A served stand-in. */
export interface AlpacaStandin {
  /** `http://127.0.0.1:<port>`: both the trading and the market-data base URL. */
  url: string;
  keyId: string;
  secret: string;
  /** The paper account behind it. */
  broker: Broker;
  requests: StandinRequest[];
  /** Adds a fault (first added, first matched). */
  fault(fault: StandinFault): void;
  /** Requests seen with this method and path. */
  count(method: string, path: string | RegExp): number;
  close(): Promise<void>;
}

/** Options of {@link serveAlpacaStandin}. */
export interface StandinOptions {
  venue: PaperVenue;
  keyId?: string;
  secret?: string;
  /** The paper account id behind the key. Default `alpaca-account`. */
  account?: string;
}

/** Core values on the wire: decimals as strings, epoch-ms `created_at` as RFC-3339. */
function wire(value: unknown): unknown {
  if (value instanceof Decimal) return value.toString();
  if (Array.isArray(value)) return value.map(wire);
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = wire(v);
    return out;
  }
  return value;
}

const orderJson = (o: Order) => toAlpacaJson(o);

function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(typeof body === "string" ? body : JSON.stringify(body), {
    status,
    headers: {
      "content-type": "application/json",
      "x-request-id": crypto.randomUUID(),
      ...headers,
    },
  });
}

function isoMs(v: string | null): number | undefined {
  if (!v) return undefined;
  const ms = Date.parse(v.length === 10 ? `${v}T00:00:00Z` : v);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Serves the stand-in on 127.0.0.1, port 0. */
export async function serveAlpacaStandin(options: StandinOptions): Promise<AlpacaStandin> {
  const keyId = options.keyId ?? "STANDINKEY";
  const secret = options.secret ?? "standin-secret";
  const venue = options.venue;
  const broker = venue.brokerFor(options.account ?? "alpaca-account");
  const md: MarketData = venue.marketData;
  const faults: (StandinFault & { left: number })[] = [];
  const requests: StandinRequest[] = [];
  const hung: (() => void)[] = [];

  async function route(req: Request, url: URL): Promise<Response> {
    const p = url.pathname;
    const q = url.searchParams;
    const m = req.method;
    let r: RegExpExecArray | null;
    const body = async () => JSON.parse(await req.text());
    // Trading API
    if (p === "/v2/account" && m === "GET") return json(wire(await broker.getAccount()));
    if (p === "/v2/orders" && m === "POST") {
      return json(orderJson(await broker.submitOrder(parseOrderRequest(await body()))));
    }
    if (p === "/v2/orders" && m === "GET") {
      const orders = await broker.listOrders({
        status: (q.get("status") ?? "open") as "open",
        limit: q.has("limit") ? Number(q.get("limit")) : 50,
        after: isoMs(q.get("after")),
        until: isoMs(q.get("until")),
        direction: (q.get("direction") ?? "desc") as "desc",
        nested: q.get("nested") === "true",
        ...(q.get("symbols") ? { symbols: q.get("symbols")!.split(",") } : {}),
        ...(q.get("side") ? { side: q.get("side") as "buy" } : {}),
      });
      return json(orders.map(orderJson));
    }
    if (p === "/v2/orders" && m === "DELETE") return json(await broker.cancelAllOrders(), 207);
    if (p === "/v2/orders:by_client_order_id" && m === "GET") {
      return json(orderJson(await broker.getOrderByClientId(q.get("client_order_id") ?? "")));
    }
    if ((r = /^\/v2\/orders\/([^/]+)$/.exec(p))) {
      const id = decodeURIComponent(r[1]!);
      if (m === "GET") {
        return json(orderJson(await broker.getOrder(id, { nested: q.get("nested") === "true" })));
      }
      if (m === "PATCH") {
        return json(orderJson(await broker.replaceOrder(id, parseReplaceRequest(await body()))));
      }
      if (m === "DELETE") {
        await broker.cancelOrder(id);
        return new Response(null, { status: 204 });
      }
    }
    if (p === "/v2/positions" && m === "GET") return json(wire(await broker.listPositions()));
    if (p === "/v2/positions" && m === "DELETE") {
      const results = await broker.closeAllPositions({
        cancelOrders: q.get("cancel_orders") === "true",
      });
      return json(
        results.map((x) => ({
          symbol: x.symbol,
          status: x.status,
          body: x.order ? orderJson(x.order) : x.error,
        })),
        207,
      );
    }
    if ((r = /^\/v2\/positions\/([^/]+)$/.exec(p))) {
      const symbol = decodeURIComponent(r[1]!);
      if (m === "GET") return json(wire(await broker.getPosition(symbol)));
      if (m === "DELETE") {
        const qty = q.get("qty");
        const pct = q.get("percentage");
        return json(orderJson(
          await broker.closePosition(symbol, {
            ...(qty ? { qty: Decimal.parse(qty) } : {}),
            ...(pct ? { percentage: Decimal.parse(pct) } : {}),
          }),
        ));
      }
    }
    if (p === "/v2/clock" && m === "GET") return json(await broker.getClock());
    if (p === "/v2/calendar" && m === "GET") {
      const days = await broker.getCalendar(
        (q.get("start") ?? "").slice(0, 10),
        (q.get("end") ?? "").slice(0, 10),
      );
      return json(days.map((d) => ({
        date: d.date,
        open: d.open,
        close: d.close,
        session_open: d.sessionOpen,
        session_close: d.sessionClose,
        settlement_date: d.settlementDate,
      })));
    }
    if (p === "/v2/assets" && m === "GET") return json(await broker.listAssets());
    if ((r = /^\/v2\/assets\/([^/]+)$/.exec(p))) {
      return json(await broker.getAsset(decodeURIComponent(r[1]!)));
    }
    // Market data API
    const symbols = () => (q.get("symbols") ?? "").split(",").filter(Boolean);
    if (p === "/v2/stocks/quotes/latest") return json({ quotes: await md.latestQuotes(symbols()) });
    if (p === "/v2/stocks/trades/latest") return json({ trades: await md.latestTrades(symbols()) });
    if (p === "/v2/stocks/bars/latest") {
      const bars: Record<string, unknown> = {};
      for (const symbol of symbols()) {
        const bar = await md.latestBar(symbol);
        if (bar) bars[symbol] = bar;
      }
      return json({ bars });
    }
    if (p === "/v2/stocks/snapshots") return json(await md.snapshots(symbols()));
    if ((r = /^\/v2\/stocks\/([^/]+)\/(quotes|trades|bars)\/latest$/.exec(p))) {
      const symbol = decodeURIComponent(r[1]!);
      if (r[2] === "quotes") return json({ symbol, quote: await md.latestQuote(symbol) });
      if (r[2] === "trades") return json({ symbol, trade: await md.latestTrade(symbol) });
      return json({ symbol, bar: await md.latestBar(symbol) });
    }
    if ((r = /^\/v2\/stocks\/([^/]+)\/snapshot$/.exec(p))) {
      const symbol = decodeURIComponent(r[1]!);
      return json({ symbol, ...await md.snapshot(symbol) });
    }
    if ((r = /^\/v2\/stocks\/([^/]+)\/bars$/.exec(p))) {
      const symbol = decodeURIComponent(r[1]!);
      const page = await md.bars(symbol, {
        timeframe: (q.get("timeframe") ?? "1Min") as Timeframe,
        start: isoMs(q.get("start")),
        end: isoMs(q.get("end")),
        ...(q.has("limit") ? { limit: Number(q.get("limit")) } : {}),
        ...(q.get("page_token") ? { pageToken: q.get("page_token")! } : {}),
        ...(q.get("sort") ? { sort: q.get("sort") as "asc" } : {}),
      });
      return json({ bars: page.bars, symbol, next_page_token: page.next_page_token });
    }
    return json({ code: 40410000, message: "endpoint not found" }, 404);
  }

  const matching = (req: Request, url: URL) =>
    faults.find((f) =>
      f.left > 0 && (!f.method || f.method === req.method) &&
      (typeof f.path === "string" ? f.path === url.pathname : f.path.test(url.pathname))
    );
  const hang = () =>
    new Promise<Response>((resolve) =>
      hung.push(() => resolve(json({ code: 50310000, message: "stand-in closing" }, 503)))
    );
  const scripted = (r: StandinFault["respond"]) => {
    const { status, body, headers } = r ?? { status: 500 };
    return json(body ?? { code: status * 100_000, message: "fault" }, status, headers);
  };

  async function handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    requests.push({ method: req.method, path: url.pathname, search: url.search });
    const fault = matching(req, url);
    if (fault) fault.left--;
    // A fault that does not forward never touches the account.
    if (fault && !fault.forward) return fault.hang ? hang() : scripted(fault.respond);
    if (
      req.headers.get("apca-api-key-id") !== keyId ||
      req.headers.get("apca-api-secret-key") !== secret
    ) {
      return json({ code: 40110000, message: "request is not authorized" }, 401);
    }
    let answer: Response;
    try {
      answer = await route(req, url);
    } catch (e) {
      answer = isTradeError(e)
        ? json(e.toAlpacaBody(), e.status)
        : json({ code: 50010000, message: `internal server error: ${(e as Error).message}` }, 500);
    }
    if (!fault) return answer;
    // Carried out; now misbehave instead of answering.
    await answer.body?.cancel();
    return fault.hang ? hang() : scripted(fault.respond);
  }

  const listening = Promise.withResolvers<void>();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => listening.resolve() },
    handle,
  );
  await listening.promise;
  const addr = server.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${addr.port}`,
    keyId,
    secret,
    broker,
    requests,
    fault(fault) {
      faults.push({ ...fault, left: fault.times ?? 1 });
    },
    count(method, path) {
      return requests.filter((r) =>
        r.method === method && (typeof path === "string" ? r.path === path : path.test(r.path))
      ).length;
    },
    async close() {
      for (const release of hung.splice(0)) release();
      await server.shutdown();
    },
  };
}
