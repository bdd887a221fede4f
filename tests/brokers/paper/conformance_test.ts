/**
 * The paper venue against the Broker conformance suite (tests/brokers/_conformance.ts).
 *
 * @module
 */
import { PaperVenue } from "../../../brokers/paper/venue.ts";
import { TestClock } from "../../../core/clock.ts";
import { seededIdSource } from "../../../core/ids.ts";
import { TEST_START_MS } from "../../_helpers.ts";
import { brokerConformance } from "../_conformance.ts";

brokerConformance("paper", () => {
  const clock = new TestClock(TEST_START_MS);
  const venue = new PaperVenue({ clock, ids: seededIdSource(21), seed: 7 });
  return Promise.resolve({
    broker: venue.brokerFor("conformance"),
    marketData: venue.marketData,
    advance(ms: number) {
      clock.advance(ms);
      venue.pump();
      return Promise.resolve();
    },
    close() {
      venue.stop();
      return Promise.resolve();
    },
  });
});
