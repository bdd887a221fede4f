/**
 * The Alpaca adapter against the Broker conformance suite (tests/brokers/_conformance.ts):
 * engine A's {@link AlpacaVenue} broker, over real HTTP and its trade_updates stream client,
 * trading at engine B (the paper venue behind Tradewind's `/v2` face), as
 * tests/_alpaca_pair.ts wires them.
 *
 * @module
 */
import { enginePair } from "../../_alpaca_pair.ts";
import { DB_TEST } from "../../_helpers.ts";
import { brokerConformance } from "../_conformance.ts";

brokerConformance("alpaca adapter", async () => {
  const p = await enginePair();
  return {
    broker: p.a.venue.brokerFor(p.a.holder),
    marketData: p.a.venue.marketData,
    advance: (ms: number) => p.advance(ms),
    settle: () => new Promise<void>((r) => setTimeout(r, 5)),
    close: () => p.close(),
  };
}, { test: DB_TEST, maxPolls: 1_000 });
