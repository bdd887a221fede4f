/**
 * Broker calls through cockatiel: a timeout on every call, retries with exponential backoff
 * and jitter for safe (read-only) calls, and a circuit breaker shared by all calls that
 * answers `503 BROKER_UNAVAILABLE` while the venue is failing.
 *
 * Orders are never retried here: a submit that times out is ambiguous and surfaces as
 * {@link AmbiguousSubmitError}, for the execution engine to resolve by looking the order up
 * by its client order id. Business errors from the venue (`TradeError`) pass through
 * untouched and do not count against the breaker.
 *
 * @module
 */
import {
  BrokenCircuitError,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
} from "cockatiel";
import type { Decimal } from "../core/decimal.ts";
import { type AlpacaErrorBody, isTradeError } from "../core/errors.ts";
import type { Order, OrderRequest, ReplaceRequest } from "../core/order.ts";
import type { Broker } from "./broker.ts";
import type { ListOrdersQuery, TradeUpdate } from "../core/account.ts";

/** The venue cannot be reached (breaker open, or retries exhausted). HTTP 503. */
export class BrokerUnavailableError extends Error {
  override name = "BrokerUnavailableError";
  readonly code = "BROKER_UNAVAILABLE";
  readonly status = 503;
  readonly details: unknown;
  constructor(message: string, details?: unknown) {
    super(message);
    this.details = details;
  }

  /** The Alpaca face's body for it: 503 `{"code":50310000,"message":"service unavailable"}`. */
  toAlpacaBody(): AlpacaErrorBody {
    return { code: 50310000, message: "service unavailable" };
  }
}

/** A submit timed out or failed in transit: the venue may or may not have the order. */
export class AmbiguousSubmitError extends Error {
  override name = "AmbiguousSubmitError";
  readonly clientOrderId: string;
  constructor(clientOrderId: string, cause: unknown) {
    super(`Submit of "${clientOrderId}" timed out or failed in transit`, { cause });
    this.clientOrderId = clientOrderId;
  }
}

/** Settings for {@link ResilientBroker}. */
export interface ResilienceOptions {
  /** Per-call timeout. Default 5000 ms. */
  timeoutMs?: number;
  /** Attempts for safe calls (1 = no retry). Default 3. */
  attempts?: number;
  /** First retry delay; grows exponentially with jitter. Default 100 ms. */
  initialDelayMs?: number;
  /** Consecutive transient failures that open the breaker. Default 5. */
  breakerThreshold?: number;
  /** How long the breaker stays open before a trial call. Default 10000 ms. */
  halfOpenAfterMs?: number;
}

const transient = (e: unknown) => !isTradeError(e);

/** A {@link Broker} whose calls go through timeouts, retries and a circuit breaker. */
export class ResilientBroker implements Broker {
  readonly name: string;
  readonly #inner: Broker;
  readonly #safe: IPolicy;
  readonly #unsafe: IPolicy;

  constructor(inner: Broker, options: ResilienceOptions = {}) {
    this.#inner = inner;
    this.name = inner.name;
    const breaker = circuitBreaker(handleWhen(transient), {
      halfOpenAfter: options.halfOpenAfterMs ?? 10_000,
      breaker: new ConsecutiveBreaker(options.breakerThreshold ?? 5),
    });
    const limit = timeout(options.timeoutMs ?? 5_000, TimeoutStrategy.Aggressive);
    const retries = retry(handleWhen(transient), {
      maxAttempts: Math.max(0, (options.attempts ?? 3) - 1),
      backoff: new ExponentialBackoff({
        initialDelay: options.initialDelayMs ?? 100,
        maxDelay: 2_000,
      }),
    });
    this.#safe = wrap(retries, breaker, limit);
    this.#unsafe = wrap(breaker, limit);
  }

  async #call<T>(policy: IPolicy, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await policy.execute(() => fn()) as T;
    } catch (e) {
      if (isTradeError(e)) throw e;
      if (e instanceof BrokenCircuitError) {
        throw new BrokerUnavailableError(
          `The ${this.name} venue is unavailable (circuit open after repeated failures); try again shortly`,
        );
      }
      if (e instanceof TaskCancelledError) {
        throw new BrokerUnavailableError(`The ${this.name} venue did not answer ${what} in time`);
      }
      throw new BrokerUnavailableError(
        `The ${this.name} venue failed on ${what}: ${(e as Error)?.message ?? String(e)}`,
      );
    }
  }

  #read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.#call(this.#safe, what, fn);
  }

  #write<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.#call(this.#unsafe, what, fn);
  }

  /**
   * Submits once. A timeout or transport failure throws {@link AmbiguousSubmitError} (the
   * order may exist); an open breaker throws {@link BrokerUnavailableError} (nothing was sent).
   */
  async submitOrder(request: OrderRequest): Promise<Order> {
    try {
      return await this.#unsafe.execute(() => this.#inner.submitOrder(request)) as Order;
    } catch (e) {
      if (isTradeError(e)) throw e;
      if (e instanceof BrokenCircuitError) {
        throw new BrokerUnavailableError(
          `The ${this.name} venue is unavailable (circuit open after repeated failures); nothing was sent`,
        );
      }
      throw new AmbiguousSubmitError(request.client_order_id ?? "", e);
    }
  }

  getOrder(id: string, options?: { nested?: boolean }) {
    return this.#read("get order", () => this.#inner.getOrder(id, options));
  }

  getOrderByClientId(clientOrderId: string) {
    return this.#read("get order", () => this.#inner.getOrderByClientId(clientOrderId));
  }

  listOrders(query?: ListOrdersQuery) {
    return this.#read("list orders", () => this.#inner.listOrders(query));
  }

  replaceOrder(id: string, request: ReplaceRequest) {
    return this.#write("replace", () => this.#inner.replaceOrder(id, request));
  }

  cancelOrder(id: string) {
    return this.#write("cancel", () => this.#inner.cancelOrder(id));
  }

  cancelAllOrders() {
    return this.#write("cancel all", () => this.#inner.cancelAllOrders());
  }

  getAccount() {
    return this.#read("account", () => this.#inner.getAccount());
  }

  listPositions() {
    return this.#read("positions", () => this.#inner.listPositions());
  }

  getPosition(symbol: string) {
    return this.#read("position", () => this.#inner.getPosition(symbol));
  }

  closePosition(symbol: string, options?: { qty?: Decimal; percentage?: Decimal }) {
    return this.#write("close position", () => this.#inner.closePosition(symbol, options));
  }

  closeAllPositions(options?: { cancelOrders?: boolean }) {
    return this.#write("close all", () => this.#inner.closeAllPositions(options));
  }

  getClock() {
    return this.#read("clock", () => this.#inner.getClock());
  }

  getCalendar(start: string, end: string) {
    return this.#read("calendar", () => this.#inner.getCalendar(start, end));
  }

  listAssets() {
    return this.#read("assets", () => this.#inner.listAssets());
  }

  getAsset(symbolOrId: string) {
    return this.#read("asset", () => this.#inner.getAsset(symbolOrId));
  }

  onTradeUpdate(listener: (update: TradeUpdate) => void) {
    return this.#inner.onTradeUpdate(listener);
  }
}
