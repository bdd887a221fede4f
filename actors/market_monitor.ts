/**
 * The market monitor: watches the clock against the market's hours and publishes
 * `market_status_changed` on the bus when the core session opens or closes. The bot manager
 * listens and tells every bot, so intraday bots stop placing orders while the market is closed
 * and start again at the open.
 *
 * With `hours: "24x7"` (the simulated market's default) the market never closes and nothing is
 * published; with `"nyse"` the NYSE calendar (holidays and early closes included) decides. One
 * timer is armed at a time, for the next open or close, on the injected clock, so a test clock
 * moving across 16:00 ET fires the close exactly there.
 *
 * @example
 * ```ts
 * const monitor = new MarketMonitor({ clock, bus, hours: "nyse" });
 * monitor.start();
 * bus.subscribe("market", (m) => console.log(m.event, m.data.is_open));
 * ```
 *
 * @module
 */
import { formatEt, nextCloseMs, nextOpenMs, sessionAt } from "../core/calendar.ts";
import type { Clock } from "../core/clock.ts";
import type { MessageBus } from "./bus.ts";

/** What {@link MarketMonitor} publishes, as in Alpaca's clock. */
export interface MarketStatus {
  /** The instant of the change, RFC 3339 in ET. */
  timestamp: string;
  is_open: boolean;
  /** The next open strictly after `timestamp`, or null when the market never closes. */
  next_open: string | null;
  /** The next close strictly after `timestamp`, or null when the market never closes. */
  next_close: string | null;
}

/** Options of {@link MarketMonitor}. */
export interface MarketMonitorOptions {
  clock: Clock;
  bus: MessageBus;
  /** The market's hours (default `"nyse"`). */
  hours?: "24x7" | "nyse";
}

/** Publishes `market_status_changed` at each open and close. */
export class MarketMonitor {
  readonly #clock: Clock;
  readonly #bus: MessageBus;
  readonly #hours: "24x7" | "nyse";
  #cancel: (() => void) | null = null;
  #open: boolean;

  constructor(options: MarketMonitorOptions) {
    this.#clock = options.clock;
    this.#bus = options.bus;
    this.#hours = options.hours ?? "nyse";
    this.#open = this.#isOpenAt(this.#clock.now());
  }

  /** Whether the core session is open now. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** The status now. */
  status(): MarketStatus {
    const now = this.#clock.now();
    if (this.#hours === "24x7") {
      return { timestamp: formatEt(now), is_open: true, next_open: null, next_close: null };
    }
    return {
      timestamp: formatEt(now),
      is_open: this.#isOpenAt(now),
      next_open: formatEt(nextOpenMs(now)),
      next_close: formatEt(nextCloseMs(now)),
    };
  }

  /** Arms the timer for the next open or close (idempotent). */
  start(): void {
    if (this.#cancel || this.#hours === "24x7") return;
    this.#arm();
  }

  /** Disarms the timer. */
  stop(): void {
    this.#cancel?.();
    this.#cancel = null;
  }

  #isOpenAt(tsMs: number): boolean {
    return this.#hours === "24x7" || sessionAt(tsMs) === "core";
  }

  #arm(): void {
    const now = this.#clock.now();
    const next = this.#open ? nextCloseMs(now) : nextOpenMs(now);
    this.#cancel = this.#clock.setTimer(() => this.#fire(), Math.max(0, next - now));
  }

  #fire(): void {
    this.#cancel = null;
    const open = this.#isOpenAt(this.#clock.now());
    if (open !== this.#open) {
      this.#open = open;
      this.#bus.publish({
        topic: "market",
        event: "market_status_changed",
        data: { ...this.status() },
        tsMs: this.#clock.now(),
      });
    }
    this.#arm();
  }
}
