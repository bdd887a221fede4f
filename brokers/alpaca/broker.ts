/**
 * {@link AlpacaBroker}: the {@link Broker} port over Alpaca's trading REST API, for the one
 * Tradewind user who holds the engine's Alpaca account (see ./venue.ts for how users map onto
 * the account). Every method is one SDK call (cancel-all and close-all one too), mapped by
 * ./rest_json.ts; errors as ./errors.ts says.
 *
 * @module
 */
import { trading } from "@alpacahq/alpaca-trade-api";
import type { TradingDay } from "../../core/calendar.ts";
import type { Decimal } from "../../core/decimal.ts";
import { TradeError } from "../../core/errors.ts";
import type { Order, OrderRequest, ReplaceRequest } from "../../core/order.ts";
import type { Broker, Unsubscribe } from "../broker.ts";
import type { Asset, MarketClock } from "../../core/market.ts";
import type {
  Account,
  CancelResult,
  ClosePositionResult,
  ListOrdersQuery,
  Position,
  TradeUpdate,
} from "../../core/account.ts";
import {
  accountFromAlpaca,
  arr,
  assetFromAlpaca,
  cancelResultFromAlpaca,
  clockFromAlpaca,
  closeResultFromAlpaca,
  orderFromAlpaca,
  orderRequestToAlpaca,
  positionFromAlpaca,
  replaceRequestToAlpaca,
  tradingDayFromAlpaca,
} from "./rest_json.ts";
import type { AlpacaRest } from "./rest.ts";

/** Where trade updates of the account come from (brokers/alpaca/trade_stream.ts). */
export interface TradeUpdateSource {
  /** Listens to every `trade_updates` event of the account, in order. */
  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** The Broker port for the engine's Alpaca account. */
export class AlpacaBroker implements Broker {
  readonly name = "alpaca";
  readonly #rest: AlpacaRest;
  readonly #updates: TradeUpdateSource | null;

  /** `updates` is the account's trade-updates stream; without it, reconciliation finds fills. */
  constructor(rest: AlpacaRest, updates: TradeUpdateSource | null) {
    this.#rest = rest;
    this.#updates = updates;
  }

  /**
   * `POST /v2/orders`, sent once. A 4xx is a `TradeError` (nothing placed); no answer, a 5xx
   * or a garbled body is a `BrokerUnavailableError` (the order may exist: resolve it by
   * client order id).
   */
  submitOrder(request: OrderRequest): Promise<Order> {
    const body = trading.PostOrderRequestFromJSON(orderRequestToAlpaca(request));
    return this.#rest.json(
      `order "${request.client_order_id ?? request.symbol}"`,
      () => this.#rest.orders.postOrderRaw({ postOrderRequest: body }),
      (b) => orderFromAlpaca(b),
    );
  }

  /** `GET /v2/orders/{id}`. Throws `ORDER_NOT_FOUND`. */
  getOrder(id: string, options?: { nested?: boolean }): Promise<Order> {
    return this.#rest.json(
      `get order "${id}"`,
      () =>
        this.#rest.orders.getOrderByOrderIDRaw({
          orderId: id,
          ...(options?.nested ? { nested: true } : {}),
        }),
      (b) => orderFromAlpaca(b),
      "ORDER_NOT_FOUND",
    );
  }

  /** `GET /v2/orders:by_client_order_id`. Throws `ORDER_NOT_FOUND`. */
  getOrderByClientId(clientOrderId: string): Promise<Order> {
    return this.#rest.json(
      `get order by client_order_id "${clientOrderId}"`,
      () => this.#rest.orders.getOrderByClientOrderIdRaw({ clientOrderId }),
      (b) => orderFromAlpaca(b),
      "ORDER_NOT_FOUND",
    );
  }

  /** `GET /v2/orders` with the query's filters (Alpaca caps `limit` at 500). */
  listOrders(query: ListOrdersQuery = {}): Promise<Order[]> {
    const iso = (ms: number | undefined) =>
      ms === undefined ? undefined : new Date(ms).toISOString();
    const params: trading.GetAllOrdersRequest = {};
    if (query.status) params.status = query.status as trading.GetAllOrdersStatusEnum;
    if (query.limit !== undefined) params.limit = Math.min(500, Math.max(1, query.limit));
    if (query.after !== undefined) params.after = iso(query.after);
    if (query.until !== undefined) params.until = iso(query.until);
    if (query.direction) params.direction = query.direction as trading.GetAllOrdersDirectionEnum;
    if (query.nested !== undefined) params.nested = query.nested;
    if (query.symbols?.length) params.symbols = query.symbols.join(",");
    if (query.side) params.side = query.side;
    return this.#rest.json(
      "list orders",
      () => this.#rest.orders.getAllOrdersRaw(params),
      (b) => arr(b, "the order list").map((o) => orderFromAlpaca(o)),
    );
  }

  /** `PATCH /v2/orders/{id}`: the new order (new id). Throws `ORDER_NOT_FOUND`, `ORDER_NOT_REPLACEABLE`. */
  replaceOrder(id: string, request: ReplaceRequest): Promise<Order> {
    const body = trading.PatchOrderRequestFromJSON(replaceRequestToAlpaca(request));
    return this.#rest.json(
      `replace order "${id}"`,
      () => this.#rest.orders.patchOrderByOrderIdRaw({ orderId: id, patchOrderRequest: body }),
      (b) => orderFromAlpaca(b),
      "ORDER_NOT_FOUND",
    );
  }

  /** `DELETE /v2/orders/{id}` (204). Throws `ORDER_NOT_FOUND`, `ORDER_NOT_CANCELABLE`. */
  cancelOrder(id: string): Promise<void> {
    return this.#rest.empty(
      `cancel order "${id}"`,
      () => this.#rest.orders.deleteOrderByOrderIDRaw({ orderId: id }),
      "ORDER_NOT_FOUND",
    );
  }

  /** `DELETE /v2/orders` (207): one result per order. */
  cancelAllOrders(): Promise<CancelResult[]> {
    return this.#rest.json(
      "cancel all orders",
      () => this.#rest.orders.deleteAllOrdersRaw(),
      (b) => arr(b, "the cancel-all answer").map(cancelResultFromAlpaca),
    );
  }

  /** `GET /v2/account`. */
  getAccount(): Promise<Account> {
    return this.#rest.json(
      "get account",
      () => this.#rest.accounts.getAccountRaw(),
      (b) => accountFromAlpaca(b),
    );
  }

  /** `GET /v2/positions`. */
  listPositions(): Promise<Position[]> {
    return this.#rest.json(
      "list positions",
      () => this.#rest.positions.getAllOpenPositionsRaw(),
      (b) => arr(b, "the position list").map(positionFromAlpaca),
    );
  }

  /** `GET /v2/positions/{symbol}`. Throws `POSITION_NOT_FOUND`. */
  getPosition(symbol: string): Promise<Position> {
    return this.#rest.json(
      `get position "${symbol}"`,
      () => this.#rest.positions.getOpenPositionRaw({ symbolOrAssetId: symbol }),
      positionFromAlpaca,
      "POSITION_NOT_FOUND",
    );
  }

  /**
   * `DELETE /v2/positions/{symbol}` with `qty` or `percentage` (sent as exact decimal text).
   * Throws `POSITION_NOT_FOUND`.
   */
  closePosition(
    symbol: string,
    options: { qty?: Decimal; percentage?: Decimal } = {},
  ): Promise<Order> {
    // The SDK types these as numbers; its query builder sends any value as text, so the
    // decimal's exact text goes on the wire instead of a float.
    const exact = (d: Decimal | undefined) => d?.toString() as unknown as number | undefined;
    const params: trading.DeleteOpenPositionRequest = { symbolOrAssetId: symbol };
    if (options.qty !== undefined) params.qty = exact(options.qty);
    if (options.percentage !== undefined) params.percentage = exact(options.percentage);
    return this.#rest.json(
      `close position "${symbol}"`,
      () => this.#rest.positions.deleteOpenPositionRaw(params),
      (b) => orderFromAlpaca(b),
      "POSITION_NOT_FOUND",
    );
  }

  /** `DELETE /v2/positions` (207): one result per position. */
  closeAllPositions(options: { cancelOrders?: boolean } = {}): Promise<ClosePositionResult[]> {
    return this.#rest.json(
      "close all positions",
      () =>
        this.#rest.positions.deleteAllOpenPositionsRaw(
          options.cancelOrders ? { cancelOrders: true } : {},
        ),
      (b) => arr(b, "the close-all answer").map(closeResultFromAlpaca),
    );
  }

  /** `GET /v2/clock`. */
  getClock(): Promise<MarketClock> {
    return this.#rest.json("get clock", () => this.#rest.clock.legacyClockRaw(), clockFromAlpaca);
  }

  /**
   * `GET /v2/calendar`, trading days from `start` to `end` inclusive (`YYYY-MM-DD`). Throws
   * `INVALID_REQUEST` for dates not in that form.
   */
  async getCalendar(start: string, end: string): Promise<TradingDay[]> {
    if (!DAY.test(start) || !DAY.test(end)) {
      throw new TradeError(
        "INVALID_REQUEST",
        `Cannot read the calendar from "${start}" to "${end}": dates must be YYYY-MM-DD`,
      );
    }
    const days = await this.#rest.json(
      "get calendar",
      () =>
        this.#rest.calendar.legacyCalendarRaw({
          // The SDK sends instants (midnight UTC, the evening before in New York): ask for a
          // day more on each side, whichever zone Alpaca reads them in, and keep the range.
          start: new Date(Date.parse(`${start}T00:00:00Z`) - 86_400_000),
          end: new Date(Date.parse(`${end}T00:00:00Z`) + 86_400_000),
        }),
      (b) => arr(b, "the calendar").map(tradingDayFromAlpaca),
    );
    return days.filter((d) => d.date >= start && d.date <= end);
  }

  /** `GET /v2/assets` (active US equities). */
  listAssets(): Promise<Asset[]> {
    return this.#rest.json(
      "list assets",
      () => this.#rest.assets.getV2AssetsRaw({ status: "active", assetClass: "us_equity" }),
      (b) => arr(b, "the asset list").map(assetFromAlpaca),
    );
  }

  /** `GET /v2/assets/{symbol_or_id}`. Throws `ASSET_NOT_FOUND`. */
  getAsset(symbolOrId: string): Promise<Asset> {
    return this.#rest.json(
      `get asset "${symbolOrId}"`,
      () => this.#rest.assets.getV2AssetsSymbolOrAssetIdRaw({ symbolOrAssetId: symbolOrId }),
      assetFromAlpaca,
      "ASSET_NOT_FOUND",
    );
  }

  /** The account's trade updates, from the injected stream (none without one). */
  onTradeUpdate(listener: (update: TradeUpdate) => void): Unsubscribe {
    return this.#updates ? this.#updates.onTradeUpdate(listener) : () => {};
  }
}
