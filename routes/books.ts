/**
 * Books: the positions of each owner inside the account, a bot's or manual (see the README's
 * "Books: netting at the venue, hedging in the ledger"). The `bot_id` filter shared by orders,
 * trades and books (its SQL condition is db/read_models/books.ts), and `GET /books`.
 *
 * @module
 */
import type { Hono } from "hono";
import { z } from "zod";
import type { BookRow } from "../db/ledger.ts";
import { readBooks } from "../db/read_models/books.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { tenantOf } from "./auth.ts";

/**
 * The `bot_id` query filter: a bot's id for its book, or `manual` for the trader's own orders,
 * trades and positions. Parses to the bot id, or null for manual.
 */
export const BookFilter = z.string()
  .refine((s) => s === "manual" || z.uuid().safeParse(s).success, {
    error: 'Must be a bot id (a UUID) or "manual"',
  })
  .transform((s) => s === "manual" ? null : s)
  .meta({ description: "A bot's id, or \"manual\" for the trader's own book" });

const BookJson = z.object({
  bot_id: z.uuid().nullable(),
  symbol: z.string(),
  qty: z.string(),
  side: z.enum(["long", "short", "flat"]),
  avg_entry_price: z.string(),
  cost_basis: z.string(),
  realized_pl: z.string(),
  opened_at: z.string().nullable(),
  updated_at: z.string(),
}).meta({ id: "Book" });

/** The JSON of one book. */
export function bookJson(r: BookRow): z.infer<typeof BookJson> {
  const side = r.qty.startsWith("-") ? "short" : r.qty === "0" ? "flat" : "long";
  return {
    bot_id: r.bot_id,
    symbol: r.symbol,
    qty: r.qty,
    side,
    avg_entry_price: r.avg_entry_price,
    cost_basis: r.cost_basis,
    realized_pl: r.realized_pl,
    opened_at: r.opened_at?.toISOString() ?? null,
    updated_at: r.updated_at.toISOString(),
  };
}

/** Mounts GET /books. */
export function bookRoutes({ sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  defineRoute(target, {
    method: "get",
    path: "/books",
    summary: "Each owner's position per symbol: the manual book and each bot's",
    description:
      "The account position of a symbol (GET /positions, the venue's netted one) is the sum of its books' qty. A book's average entry, cost basis and realized P&L come from its own fills alone. Filters: symbol, bot_id (a bot's id, or manual); closed=true lists flat books too (their realized P&L).",
    tags: ["positions"],
    query: z.object({
      symbol: z.string().regex(/^[A-Za-z][A-Za-z0-9.]{0,9}$/).transform((s) => s.toUpperCase())
        .optional(),
      bot_id: BookFilter.optional(),
      closed: z.enum(["true", "false"]).optional(),
    }),
    responses: { 200: { description: "Books", schema: z.array(BookJson) } },
  }, async (c, { query }) => {
    const rows = await readBooks(sql, tenantOf(c.var.user), {
      ...(query.symbol ? { symbol: query.symbol } : {}),
      ...(query.bot_id !== undefined ? { botId: query.bot_id } : {}),
      all: query.closed === "true",
    });
    return c.json(rows.map(bookJson));
  });
  return target.app;
}
