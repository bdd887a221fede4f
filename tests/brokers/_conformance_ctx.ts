/**
 * The shared parts of the Broker conformance suite (tests/brokers/_conformance.ts): what a
 * setup provides, what a check sees, and the assertions the checks share.
 *
 * @module
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import type { Broker, MarketData, TradeUpdate } from "../../brokers/broker.ts";
import { Decimal } from "../../core/decimal.ts";
import { TradeError } from "../../core/errors.ts";
import { type Order, ORDER_STATUSES, type OrderRequest } from "../../core/order_types.ts";

/** A venue under test, as a {@link ConformanceSetup} builds it. */
export interface ConformanceVenue {
  /** The broker of one fresh account with the venue's starting cash. */
  broker: Broker;
  /** The venue's market data, to price limit and stop orders around the market. */
  marketData: MarketData;
  /** Moves the venue's market forward by `ms`, so that marketable orders fill. */
  advance(ms: number): Promise<void>;
  /**
   * Gives events in flight (trade updates on a network stream) a chance to arrive; called
   * between polls of a condition. Default: one macrotask.
   */
  settle?(): Promise<void>;
  /** Stops everything `setup` started. */
  close(): Promise<void>;
}

/** Builds a fresh venue for one check. */
export type ConformanceSetup = () => Promise<ConformanceVenue>;

/** Options of {@link brokerConformance}. */
export interface ConformanceOptions {
  /** Extra `Deno.test` options (e.g. sanitizers off for database-backed venues). */
  test?: Omit<Deno.TestDefinition, "name" | "fn">;
  /** How many polls a wait for an event may take before it fails. Default 2000. */
  maxPolls?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** A decimal from a string. */
export const d = (s: string) => Decimal.parse(s);

/** What one check sees: the venue, the trade updates it has sent, and helpers. */
export interface Ctx extends ConformanceVenue {
  updates: TradeUpdate[];
  /** Polls `cond` (settling between polls) until it holds; fails naming `what` otherwise. */
  until(cond: () => boolean, what: string): Promise<void>;
  /** The ask of `symbol` as a decimal. */
  ask(symbol: string): Promise<Decimal>;
  /** Buys `qty` at market and waits for the order to fill; answers its fills. */
  buyFilled(symbol: string, qty: string): Promise<{ order: Order; fills: TradeUpdate[] }>;
}

/** Fails unless `order` carries Alpaca's order fields with the right types. */
export function assertAlpacaOrder(order: Order, request?: Partial<OrderRequest>): void {
  assert(UUID.test(order.id), `order id is a UUID: ${order.id}`);
  assert(order.client_order_id.length > 0, "client_order_id is set");
  assert(UUID.test(order.asset_id), `asset_id is a UUID: ${order.asset_id}`);
  assert(ORDER_STATUSES.includes(order.status), `known status: ${order.status}`);
  assert(Number.isFinite(order.created_at), "created_at is a time");
  assert(order.filled_qty instanceof Decimal, "filled_qty is a Decimal");
  assertEquals(order.asset_class, "us_equity");
  if (request?.symbol) assertEquals(order.symbol, request.symbol);
  if (request?.side) assertEquals(order.side, request.side);
  if (request?.time_in_force) assertEquals(order.time_in_force, request.time_in_force);
  if (request?.qty) assert(order.qty?.eq(request.qty), `qty ${order.qty} = ${request.qty}`);
  if (request?.limit_price && order.type === request.type) {
    assert(order.limit_price?.eq(request.limit_price), `limit_price ${order.limit_price}`);
  }
  if (request?.client_order_id) assertEquals(order.client_order_id, request.client_order_id);
}

/** The TradeError code a promise rejects with (fails if it resolves). */
export async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await assertRejects(() => p, TradeError);
  return e.code;
}

/** One conformance check: a title and what it does with a fresh venue. */
export type Check = (title: string, fn: (c: Ctx) => Promise<void>) => void;
