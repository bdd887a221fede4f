/**
 * The execution engine's vocabulary: what its entry points take and answer
 * ({@link SubmitOrder}, {@link SubmitResult}, …), what it needs ({@link ExecutionDeps}), and
 * the shapes its parts pass each other while venue events are applied.
 *
 * @module
 */
import type { Sql } from "postgres";
import type { Clock } from "../../core/clock.ts";
import type { AlpacaErrorBody } from "../../core/errors.ts";
import type { IdSource } from "../../core/ids.ts";
import type { Order, OrderRequest } from "../../core/order.ts";
import type { RiskLimits, RiskNotice } from "../../core/risk.ts";
import type { Account, Asset, TradeUpdate, Venue } from "../../brokers/broker.ts";
import type { ResilienceOptions } from "../../brokers/resilient.ts";
import type { Tenant } from "../../db/database.ts";
import type { BookPlanItem, OrderRow } from "../../db/ledger.ts";
import type { MessageBus } from "../bus.ts";

/** A request to place an order. */
export interface SubmitOrder {
  tenant: Tenant;
  request: OrderRequest;
  botId?: string | null;
  /** Traces the request (HTTP request id or bot signal id) to its audit rows and fills. */
  correlationId: string;
  causationId?: string | null;
  /** An order that flattens the account: the books it closes (see `ExecutionEngine.closePosition`). */
  bookPlan?: BookPlanItem[] | null;
}

/** What `ExecutionEngine.submit` answers. */
export interface SubmitResult {
  order: Order;
  /** False when the client order id was seen before and the existing order is answered. */
  created: boolean;
  /** True when the broker's answer is still unknown (a timeout being resolved). */
  pending: boolean;
  /**
   * What `POST /orders/validate` would have warned of, as the order was placed (same codes
   * and messages; `RISK_NEAR_LIMIT` included). Kept in the order's VALIDATED audit row and
   * read back from there when the client order id is replayed. Not part of the order: the
   * Alpaca face keeps Alpaca's order shape.
   */
  warnings: RiskNotice[];
  /**
   * The earlier attempt, never sent to the venue, whose client order id this new order took
   * (core/order_retry.ts); absent when the order retries nothing.
   */
  retryOf?: string;
}

/** What `ExecutionEngine.replace` answers. */
export interface ReplaceResult {
  /** The replacing order. */
  order: Order;
  /** The warnings of the replacement's validation, as {@link SubmitResult.warnings}. */
  warnings: RiskNotice[];
}

/** One order's result in `ExecutionEngine.cancelAll`: 200 when the cancel was requested. */
export interface OrderCancelResult {
  id: string;
  symbol: string;
  status: number;
  error?: { code: string; message: string };
  /** The error as Alpaca's body (`{code, message, …}`), for the Alpaca face. */
  alpaca?: AlpacaErrorBody;
}

/**
 * One symbol's result in `ExecutionEngine.closeAll`: the closing order (200), or the
 * error; no order and no error when there was no position, only orders to cancel.
 */
export interface CloseAllItem {
  symbol: string;
  status: number;
  order?: Order;
  error?: { code: string; message: string };
  /** The books the closing order flattens (see `ExecutionEngine.closePosition`). */
  books?: BookPlanItem[];
  /** The results of canceling this symbol's open orders. */
  orders: OrderCancelResult[];
}

/** What `POST /orders/validate` answers. */
export interface ValidationReport {
  valid: boolean;
  errors: { code: string; message: string; details?: unknown }[];
  warnings: RiskNotice[];
  recommendations: RiskNotice[];
}

/** What the engine needs. */
export interface ExecutionDeps {
  sql: Sql;
  venue: Venue;
  clock: Clock;
  ids: IdSource;
  bus: MessageBus;
  /** Default risk limits (from config); users and bots override them. */
  defaultLimits: RiskLimits;
  resilience?: ResilienceOptions;
  /** Reconciliation interval; 0 turns the timer off. Default 60000 ms. */
  reconcileEveryMs?: number;
  /** Position snapshot interval; 0 turns it off. Default 300000 ms. */
  snapshotEveryMs?: number;
  /** How long close-all waits for its cancels to be confirmed. Default 5000 ms. */
  cancelConfirmMs?: number;
  log?: (
    level: "info" | "warning" | "error",
    message: string,
    fields?: Record<string, unknown>,
  ) => void;
}

/** What evaluating an order needs from the venue (fetched before the ledger transaction). */
export interface MarketView {
  asset: Asset;
  trade: { p: number };
  quote: { bp: number; ap: number } | null;
  account: Account;
}

/** A fill as published on the bus. */
export interface FillView {
  qty: string;
  price: string;
  execution_id: string;
  position_qty: string;
}

/** One venue event to apply, optionally to a known row, with an audit note or action. */
export interface BatchItem {
  update: TradeUpdate;
  row?: OrderRow;
  note?: string;
  action?: string;
}

/**
 * A simple order just committed by a submit in progress, as its row now reads: the first
 * batch of its venue events starts from it instead of reading the row back.
 */
export interface LiveOrder {
  order: Order;
  botId: string | null;
  correlationId: string | null;
}

/** An applied event, ready to publish. */
export interface Applied {
  order: Order;
  /** The order's book: the bot that placed it, or null (manual). */
  botId: string | null;
  seq: string;
  ts: Date;
  fill: FillView | null;
  correlationId: string | null;
  event: string;
}

/** Who asked for a ledger write: traced to its audit row. */
export type Requester = Pick<SubmitOrder, "correlationId" | "botId">;

/** Log function of the engine's parts. */
export type EngineLog = (
  level: "info" | "warning" | "error",
  message: string,
  fields?: Record<string, unknown>,
) => void;
