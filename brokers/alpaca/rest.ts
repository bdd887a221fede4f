/**
 * Alpaca's REST API through the official SDK's generated classes
 * (`@alpacahq/alpaca-trade-api` 4.0.2, ALPACA.md §8 way 3): one {@link AlpacaRest} per venue,
 * its base URLs explicit, its keys the engine's, every request through the venue's
 * {@link AlpacaBudget}.
 *
 * The SDK's own retry and rate limiter are off (its raw classes leave them off): the budget
 * limits and retries reads after a 429, and nothing ever repeats a write, so `POST /v2/orders`
 * is sent at most once per submit (an ambiguous one is resolved by client order id).
 *
 * Answers are read from the raw `Response` (the `…Raw` methods) and parsed by ./rest_json.ts, so
 * amounts stay the decimal strings Alpaca sent until they become `Decimal`s.
 *
 * @module
 */
import { marketData, trading } from "@alpacahq/alpaca-trade-api";
import type { AlpacaBudget } from "./budget.ts";
import { type NotFoundCode, toVenueError } from "./errors.ts";

/** Where and how to reach Alpaca. */
export interface AlpacaEndpoints {
  /** Trading API base, e.g. `https://paper-api.alpaca.markets`. */
  tradingUrl: string;
  /** Market-data API base, e.g. `https://data.alpaca.markets`. */
  dataUrl: string;
  keyId: string;
  secretKey: string;
  /**
   * Per-request timeout in ms, counted from when the request leaves (after its wait for a
   * budget slot). Default 3000: with the budget's longest wait (1500) it stays under the
   * engine's 5 s broker timeout, so the engine never gives up on a request still going out.
   */
  timeoutMs?: number;
  /** Replaces `fetch` (tests). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
}

/** The paper trading host. */
export const ALPACA_PAPER_URL = "https://paper-api.alpaca.markets";
/** The live (real money) trading host. */
export const ALPACA_LIVE_URL = "https://api.alpaca.markets";
/** The market-data host. */
export const ALPACA_DATA_URL = "https://data.alpaca.markets";

type RawAnswer = { raw: Response };

/** The SDK's API classes for one venue, with the venue's budget in their fetch. */
export class AlpacaRest {
  readonly orders: trading.OrdersApi;
  readonly positions: trading.PositionsApi;
  readonly accounts: trading.AccountsApi;
  readonly clock: trading.ClockApi;
  readonly calendar: trading.CalendarApi;
  readonly assets: trading.AssetsApi;
  readonly stocks: marketData.StockApi;

  constructor(endpoints: AlpacaEndpoints, budget: AlpacaBudget) {
    const inner = endpoints.fetch ?? ((url, init) => fetch(url, init));
    const ms = endpoints.timeoutMs ?? 3_000;
    const timed = (url: string, init: RequestInit) => {
      const limit = AbortSignal.timeout(ms);
      return inner(url, {
        ...init,
        signal: init.signal ? AbortSignal.any([init.signal, limit]) : limit,
      });
    };
    const common = {
      keyId: endpoints.keyId,
      secret: endpoints.secretKey,
      fetchApi: budget.fetch(timed),
      // The timeout is ours (above), so a wait for a budget slot does not eat into it.
      timeoutMs: 0,
      userAgent: "Tradewind (APCA-NODE/4.0.2)",
    };
    const t = new trading.Configuration({
      ...common,
      basePath: endpoints.tradingUrl.replace(/\/+$/, ""),
    });
    const d = new marketData.Configuration({
      ...common,
      basePath: endpoints.dataUrl.replace(/\/+$/, ""),
    });
    this.orders = new trading.OrdersApi(t);
    this.positions = new trading.PositionsApi(t);
    this.accounts = new trading.AccountsApi(t);
    this.clock = new trading.ClockApi(t);
    this.calendar = new trading.CalendarApi(t);
    this.assets = new trading.AssetsApi(t);
    this.stocks = new marketData.StockApi(d);
  }

  /**
   * Runs one SDK `…Raw` call and parses its JSON body with `parse`. Throws a `TradeError`
   * (Alpaca refused; a 404 is `notFound`) or a `BrokerUnavailableError` (no answer, 5xx, or a
   * body of the wrong shape).
   */
  async json<T>(
    what: string,
    call: () => Promise<RawAnswer>,
    parse: (body: unknown) => T,
    notFound?: NotFoundCode,
  ): Promise<T> {
    try {
      const answer = await call();
      return parse(await answer.raw.json());
    } catch (e) {
      throw await toVenueError(e, what, notFound);
    }
  }

  /** Runs one SDK `…Raw` call whose answer has no body (204). Throws like {@link json}. */
  async empty(what: string, call: () => Promise<RawAnswer>, notFound?: NotFoundCode) {
    try {
      const answer = await call();
      await answer.raw.body?.cancel().catch(() => {});
    } catch (e) {
      throw await toVenueError(e, what, notFound);
    }
  }
}
