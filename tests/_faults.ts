/**
 * Fault injection around the real paper venue: the only stand-in the pipeline tests use, for
 * failures that cannot be provoked on this machine (a venue that stops answering, a stream
 * that drops events).
 *
 * @module
 */
import type { Broker, Venue } from "../brokers/broker.ts";
import type { TradeUpdate } from "../core/account.ts";
import type { PaperVenue } from "../brokers/paper/venue.ts";
import type { TradeError } from "../core/errors.ts";

/** Switches for {@link FaultyVenue}. */
export interface Faults {
  /** submitOrder reaches the venue, then never answers (a timeout after the order landed). */
  hangAfterSubmit: boolean;
  /** submitOrder never reaches the venue and never answers. */
  hangBeforeSubmit: boolean;
  /** Trade updates are lost on the way to the engine. */
  dropEvents: boolean;
  /** Every call fails as if the network were down. */
  down: boolean;
  /**
   * submitOrder reaches the venue, which refuses it with this error (a venue's own rejection,
   * such as buying power it counts differently), recording nothing.
   */
  rejectSubmit?: TradeError | null;
}

/** Wraps a paper venue so that tests can switch faults on and off. */
export function faultyVenue(inner: PaperVenue, faults: Faults): Venue {
  const brokers = new Map<string, Broker>();
  return {
    name: inner.name,
    marketData: inner,
    session: (ts) => inner.session(ts),
    brokerFor(userId: string): Broker {
      let b = brokers.get(userId);
      if (b) return b;
      const real = inner.brokerFor(userId);
      const never = new Promise<never>(() => {});
      b = new Proxy(real, {
        get(target, prop, receiver) {
          const value = Reflect.get(target, prop, receiver);
          if (typeof value !== "function") return value;
          if (prop === "onTradeUpdate") {
            return (listener: (u: TradeUpdate) => void) =>
              target.onTradeUpdate((u) => {
                if (!faults.dropEvents) listener(u);
              });
          }
          return (...args: unknown[]) => {
            if (faults.down) {
              return Promise.reject(new TypeError("fetch failed: connection refused"));
            }
            if (prop === "submitOrder" && faults.hangBeforeSubmit) return never;
            if (prop === "submitOrder" && faults.rejectSubmit) {
              return Promise.reject(faults.rejectSubmit);
            }
            const result = value.apply(target, args);
            if (prop === "submitOrder" && faults.hangAfterSubmit) return never;
            return result;
          };
        },
      });
      brokers.set(userId, b);
      return b;
    },
  };
}
