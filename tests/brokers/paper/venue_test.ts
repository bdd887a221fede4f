import { assert, assertEquals } from "../../_assert.ts";
import { PaperVenue } from "../../../brokers/paper/venue.ts";
import { TestClock } from "../../../core/clock.ts";
import { seededIdSource } from "../../../core/ids.ts";

const START = Date.parse("2026-11-23T15:00:00Z");

function venue() {
  const clock = new TestClock(START);
  return { clock, venue: new PaperVenue({ clock, ids: seededIdSource(3), seed: 5 }) };
}

Deno.test("venue bars: descending over a long range answers the newest bars, and pages back", async () => {
  const { venue: v } = venue();
  const start = Date.parse("2026-01-01T00:00:00Z");
  const page = await v.bars("AAPL", { timeframe: "1Day", start, limit: 5, sort: "desc" });
  assertEquals(page.bars.length, 5);
  const times = page.bars.map((b) => Date.parse(b.t));
  for (let i = 1; i < times.length; i++) assert(times[i]! < times[i - 1]!, "newest first");
  assert(START - times[0]! < 3 * 86_400_000, `newest bar is recent: ${page.bars[0]!.t}`);
  assert(page.next_page_token, "more pages");
  const next = await v.bars("AAPL", {
    timeframe: "1Day",
    start,
    limit: 5,
    sort: "desc",
    pageToken: page.next_page_token!,
  });
  assert(Date.parse(next.bars[0]!.t) < times.at(-1)!, "the next page continues back in time");
  const asc = await v.bars("AAPL", { timeframe: "1Day", start, limit: 10_000 });
  const all = asc.bars.map((b) => b.t).reverse();
  assertEquals([...page.bars, ...next.bars].map((b) => b.t), all.slice(0, 10));
});

Deno.test("venue bars: an invalid page token is a clear error, not a crash", async () => {
  const { venue: v } = venue();
  let code = "";
  try {
    await v.bars("AAPL", { timeframe: "1Min", pageToken: "!!" });
  } catch (e) {
    code = (e as { code?: string }).code ?? "";
  }
  assertEquals(code, "INVALID_REQUEST");
});
