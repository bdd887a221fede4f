/**
 * The market monitor publishes `market_status_changed` exactly at the NYSE open and close on a
 * test clock (early closes and weekends included), and never in a 24x7 market; the bot
 * behaviour suppresses intraday orders while the market is closed.
 */
import { assertEquals } from "../_assert.ts";
import { MessageBus } from "../../actors/bus.ts";
import { MarketMonitor } from "../../actors/market_monitor.ts";
import { TestClock } from "../../core/clock.ts";

function watch(hours: "nyse" | "24x7", startIso: string) {
  const clock = new TestClock(Date.parse(startIso));
  const bus = new MessageBus();
  const seen: [string, boolean][] = [];
  bus.subscribe("market", (m) => {
    seen.push([new Date(m.tsMs).toISOString(), m.data.is_open as boolean]);
  });
  const monitor = new MarketMonitor({ clock, bus, hours });
  monitor.start();
  return { clock, monitor, seen };
}

Deno.test("market monitor: open and close on the NYSE calendar, early close included", () => {
  // Wednesday 2026-11-25 08:00 ET; Thursday is Thanksgiving, Friday closes at 13:00 ET.
  const { clock, monitor, seen } = watch("nyse", "2026-11-25T13:00:00Z");
  assertEquals(monitor.isOpen, false);
  clock.advance(4 * 24 * 3_600_000); // to Sunday 08:00 ET
  assertEquals(seen, [
    ["2026-11-25T14:30:00.000Z", true],
    ["2026-11-25T21:00:00.000Z", false],
    ["2026-11-27T14:30:00.000Z", true],
    ["2026-11-27T18:00:00.000Z", false],
  ]);
  assertEquals(monitor.isOpen, false);
  const status = monitor.status();
  assertEquals([status.is_open, status.next_open], [false, "2026-11-30T09:30:00-05:00"]);
  monitor.stop();
  clock.advance(24 * 3_600_000);
  assertEquals(seen.length, 4);
});

Deno.test("market monitor: a 24x7 market is always open and says nothing", () => {
  const { clock, monitor, seen } = watch("24x7", "2026-11-28T13:00:00Z");
  clock.advance(7 * 24 * 3_600_000);
  assertEquals([monitor.isOpen, seen.length], [true, 0]);
  assertEquals(monitor.status().next_close, null);
});
