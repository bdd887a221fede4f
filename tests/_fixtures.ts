/**
 * Plain domain fixtures shared by unit tests (no database, no I/O).
 *
 * @module
 */
import type { Asset } from "../core/market.ts";
import { dec } from "../core/decimal.ts";
import type { OrderRequest } from "../core/order.ts";

/** An active, tradable, fractionable NASDAQ stock with a stable id derived from its symbol. */
export function testAsset(symbol: string, over: Partial<Asset> = {}): Asset {
  return {
    id: `00000000-0000-4000-8000-${symbol.padStart(12, "0")}`,
    class: "us_equity",
    exchange: "NASDAQ",
    symbol,
    name: symbol,
    status: "active",
    tradable: true,
    marginable: true,
    shortable: true,
    easy_to_borrow: true,
    fractionable: true,
    sector: "Technology",
    attributes: [],
    ...over,
  };
}

/** A market day order for 10 AAPL, with `over` applied. */
export function orderRequest(over: Partial<OrderRequest> = {}): OrderRequest {
  return {
    symbol: "AAPL",
    qty: dec("10"),
    side: "buy",
    type: "market",
    time_in_force: "day",
    ...over,
  };
}
