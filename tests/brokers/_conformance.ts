/**
 * The Broker conformance suite: the contract of the {@link Broker} port as the execution engine
 * relies on it, run against any adapter. The paper venue passes it
 * (`tests/brokers/paper/conformance_test.ts`); the Alpaca adapter runs it against a served
 * Tradewind's `/v2` face (`tests/alpaca_e2e_test.ts`).
 *
 * Each check gets a fresh venue from `setup`, so no check depends on another's orders.
 *
 * @module
 */
import type { TradeUpdate } from "../../brokers/broker.ts";
import { Decimal } from "../../core/decimal.ts";
import { accountChecks } from "./_conformance_account.ts";
import { orderChecks } from "./_conformance_orders.ts";
import { type ConformanceOptions, type ConformanceSetup, type Ctx, d } from "./_conformance_ctx.ts";

export type { ConformanceOptions, ConformanceSetup, ConformanceVenue } from "./_conformance_ctx.ts";
export { assertAlpacaOrder } from "./_conformance_ctx.ts";

/**
 * Registers the conformance checks as `Deno.test`s named `"<name> conformance: …"`.
 *
 * @example
 * ```ts
 * brokerConformance("paper", async () => ({ broker, marketData, advance, close }));
 * ```
 */
export function brokerConformance(
  name: string,
  setup: ConformanceSetup,
  options: ConformanceOptions = {},
): void {
  const maxPolls = options.maxPolls ?? 2000;
  const check = (title: string, fn: (c: Ctx) => Promise<void>) =>
    Deno.test({
      ...options.test,
      name: `${name} conformance: ${title}`,
      async fn() {
        const venue = await setup();
        const updates: TradeUpdate[] = [];
        const stop = venue.broker.onTradeUpdate((u) => updates.push(u));
        const settle = venue.settle ?? (() => new Promise<void>((r) => setTimeout(r, 0)));
        const ctx: Ctx = {
          ...venue,
          updates,
          async until(cond, what) {
            for (let i = 0; i < maxPolls; i++) {
              if (cond()) return;
              await settle();
            }
            throw new Error(
              `Timed out waiting for ${what}; updates: ${
                JSON.stringify(updates.map((u) => [u.event, u.order.client_order_id]))
              }`,
            );
          },
          async ask(symbol) {
            const q = await venue.marketData.latestQuote(symbol);
            return Decimal.parse(q.ap > 0 ? q.ap : q.bp, "half_even").round(2);
          },
          async buyFilled(symbol, qty) {
            const order = await venue.broker.submitOrder({
              symbol,
              qty: d(qty),
              side: "buy",
              type: "market",
              time_in_force: "day",
            });
            const done = () => updates.some((u) => u.order.id === order.id && u.event === "fill");
            for (let i = 0; i < 20 && !done(); i++) await venue.advance(1000);
            await ctx.until(done, `the fill of ${order.client_order_id}`);
            const fills = updates.filter((u) =>
              u.order.id === order.id && (u.event === "fill" || u.event === "partial_fill")
            );
            return { order, fills };
          },
        };
        try {
          await fn(ctx);
        } finally {
          stop();
          await venue.close();
        }
      },
    });
  orderChecks(check);
  accountChecks(check);
}
