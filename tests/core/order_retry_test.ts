import { assertEquals } from "../_assert.ts";
import { NEVER_SENT_REASONS, retryable } from "../../core/order_retry.ts";

const NEVER_SENT = {
  status: "rejected",
  reject_reason: "BROKER_TIMEOUT",
  broker_order_id: null,
  parent_id: null,
  replaces: null,
  retried_by: null,
};

Deno.test("order retry: only an order the venue never got frees its client order id", () => {
  assertEquals([...NEVER_SENT_REASONS], [
    "NOT_SENT",
    "BROKER_TIMEOUT",
    "NOT_RECEIVED",
    "RATE_LIMITED",
  ]);
  for (const reason of NEVER_SENT_REASONS) {
    assertEquals(retryable({ ...NEVER_SENT, reject_reason: reason }), true, reason);
  }
  const kept: [string, Record<string, unknown>][] = [
    // The venue's own refusals reached it (in the submit answer, or as an event: no reason).
    ["venue refusal", { reject_reason: "INSUFFICIENT_BUYING_POWER" }],
    ["venue event", { reject_reason: null }],
    ["generic unavailability", { reject_reason: "BROKER_UNAVAILABLE" }],
    ["acknowledged once", { broker_order_id: "venue-1" }],
    ["a bracket leg", { parent_id: "p-1" }],
    ["a replacement", { replaces: "o-1" }],
    ["already retried", { retried_by: "o-2" }],
    ["open", { status: "accepted" }],
    ["canceled", { status: "canceled" }],
    ["filled", { status: "filled" }],
  ];
  for (const [what, change] of kept) {
    assertEquals(retryable({ ...NEVER_SENT, ...change } as typeof NEVER_SENT), false, what);
  }
  // A row read as JSON may lack the optional columns.
  assertEquals(retryable({ status: "rejected", reject_reason: "NOT_SENT" }), true);
});
