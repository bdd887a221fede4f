/**
 * Reading `GET /v2/orders` queries and order bodies the way Alpaca's server reads them (pure;
 * no database): defaults, repeated and CSV lists, times with and without milliseconds or as
 * dates, and Alpaca's 422 40010001 naming the parameter.
 */
import { assertEquals, assertThrows } from "../../_assert.ts";
import { parseOrderRequest } from "../../../core/order.ts";
import { OPEN_STATUSES, TERMINAL_STATUSES } from "../../../core/order_state.ts";
import { AlpacaApiError } from "../../../routes/alpaca/errors.ts";
import { readBody, readListQuery } from "../../../routes/alpaca/order_params.ts";

Deno.test("alpaca order params: the defaults are Alpaca's", () => {
  const f = readListQuery({});
  assertEquals(
    [f.statuses, f.limit, f.direction, f.nested, f.symbols, f.side, f.assetClasses],
    [OPEN_STATUSES, 50, "desc", false, undefined, undefined, undefined],
  );
  assertEquals(readListQuery({ status: ["closed"] }).statuses, TERMINAL_STATUSES);
  assertEquals(readListQuery({ status: ["ALL"] }).statuses, null);
});

Deno.test("alpaca order params: lists come repeated or as CSV, symbols upper-cased once", () => {
  const f = readListQuery({
    symbols: ["aapl,MSFT", "msft", " tsla "],
    asset_class: ["us_equity,crypto"],
  });
  assertEquals(f.symbols, ["AAPL", "MSFT", "TSLA"]);
  assertEquals(f.assetClasses, ["us_equity", "crypto"]);
  assertEquals(readListQuery({ asset_class: ["us_equity", "all"] }).assetClasses, undefined);
});

Deno.test("alpaca order params: after/until with or without milliseconds, or a date", () => {
  assertEquals(
    readListQuery({ after: ["2026-11-23T14:30:00.123Z"] }).afterMs,
    Date.parse("2026-11-23T14:30:00.123Z"),
  );
  assertEquals(
    readListQuery({ until: ["2026-11-23T09:30:00-05:00"] }).untilMs,
    Date.parse("2026-11-23T14:30:00Z"),
  );
  // A date is midnight in New York.
  assertEquals(
    readListQuery({ after: ["2026-11-23"] }).afterMs,
    Date.parse("2026-11-23T05:00:00Z"),
  );
});

Deno.test("alpaca order params: bad values are 422 40010001 naming the parameter", () => {
  for (
    const [query, named] of [
      [{ status: ["pending"] }, "status"],
      [{ limit: ["0"] }, "limit"],
      [{ limit: ["1e2"] }, "limit"],
      [{ direction: ["sideways"] }, "direction"],
      [{ after: ["2026-02-30"] }, "after"],
      [{ nested: ["yes"] }, "nested"],
      [{ limit: ["5", "6"] }, "limit"],
      [{ after_order_id: ["x"] }, "after_order_id"],
    ] as [Record<string, string[]>, string][]
  ) {
    const e = assertThrows(() => readListQuery(query), AlpacaApiError);
    assertEquals([e.status, e.code, e.message.includes(named)], [422, 40010001, true]);
  }
});

Deno.test("alpaca order params: a body field that cannot be read is 422 naming it", () => {
  const e = assertThrows(
    () => readBody(parseOrderRequest, { symbol: "AAPL", side: "buy", type: "market" }),
    AlpacaApiError,
  );
  assertEquals([e.status, e.code, e.message], [422, 40010001, "invalid time_in_force: Required"]);
});
