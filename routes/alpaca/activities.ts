/**
 * Account activities on the Alpaca-compatible face: `GET /v2/account/activities` and
 * `GET /v2/account/activities/{activity_type}`. Trade activities (`FILL`) come from the ledger's
 * fills; Tradewind's venues have no dividends, fees, transfers or other non-trade activities, so
 * those types are always empty.
 *
 * Query: `activity_types` (CSV) or `category` (`trade_activity` | `non_trade_activity`), `date`
 * or `after`/`until` (RFC-3339 or `YYYY-MM-DD`, midnight in New York), `order_id`, `direction`
 * (`desc` by default), `page_size` (1–100, default 100), `page_token` (the last id of the previous page).
 *
 * @module
 */
import type { Context, Hono } from "hono";
import { withTenant } from "../../db/database.ts";
import { type FillActivity, listFillActivities } from "../../db/activities.ts";
import { etToEpochMs } from "../../core/calendar.ts";
import { tenantOf } from "../auth.ts";
import type { AppEnv } from "../app.ts";
import { parseInstant } from "../params.ts";
import { invalidParameter } from "./errors.ts";
import type { AlpacaFaceDeps } from "./_deps.ts";

/** Alpaca's activity types (SDK 4.0.2 `ActivityType`). */
export const ACTIVITY_TYPES = [
  "FILL",
  "TRANS",
  "MISC",
  "ACATC",
  "ACATS",
  "CFEE",
  "CGD",
  "CSD",
  "CSW",
  "DIV",
  "DIVCGL",
  "DIVCGS",
  "DIVFEE",
  "DIVFT",
  "DIVNRA",
  "DIVROC",
  "DIVTW",
  "DIVTXEX",
  "FEE",
  "INT",
  "INTNRA",
  "INTTW",
  "JNL",
  "JNLC",
  "JNLS",
  "MA",
  "NC",
  "OPASN",
  "OPCA",
  "OPCSH",
  "OPEXC",
  "OPEXP",
  "OPTRD",
  "PTC",
  "PTR",
  "REORG",
  "SPIN",
  "SPLIT",
  "FOPT",
] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** `20260105143009123::<fill id>`: the fill's UTC time to the millisecond, then its id. */
function activityId(a: FillActivity): string {
  const stamp = new Date(a.ts).toISOString().replace(/[-:TZ.]/g, "");
  return `${stamp}::${a.fillId}`;
}

/** Alpaca's trade activity JSON. */
export function fillActivityJson(a: FillActivity): Record<string, unknown> {
  return {
    id: activityId(a),
    activity_type: "FILL",
    transaction_time: new Date(a.ts).toISOString(),
    type: a.completes ? "fill" : "partial_fill",
    price: a.price,
    qty: a.qty,
    side: a.side,
    symbol: a.symbol,
    leaves_qty: a.leavesQty,
    order_id: a.orderId,
    cum_qty: a.cumQty,
    order_status: a.completes ? "filled" : "partially_filled",
  };
}

function instant(name: string, text: string | undefined): number | undefined {
  if (text === undefined || text.trim() === "") return undefined;
  const ms = parseInstant(text.trim());
  if (ms === null) {
    throw invalidParameter(
      `invalid ${name} "${text}": use an RFC-3339 time such as 2026-11-23T14:30:00Z or a date`,
    );
  }
  return ms;
}

/** Mounts the account activity routes on `v2`. */
export function alpacaActivityRoutes(v2: Hono<AppEnv>, deps: AlpacaFaceDeps): void {
  async function answer(c: Context<AppEnv>, types: string[]): Promise<Response> {
    const category = c.req.query("category");
    if (
      category !== undefined && category !== "trade_activity" && category !== "non_trade_activity"
    ) {
      throw invalidParameter(
        `invalid category "${category}": use trade_activity or non_trade_activity`,
      );
    }
    if (category !== undefined && types.length > 0) {
      throw invalidParameter("category cannot be combined with activity_types");
    }
    for (const t of types) {
      if (!(ACTIVITY_TYPES as readonly string[]).includes(t)) {
        throw invalidParameter(
          `invalid activity type "${t}": use one of ${ACTIVITY_TYPES.join(", ")}`,
        );
      }
    }
    const direction = c.req.query("direction") ?? "desc";
    if (direction !== "asc" && direction !== "desc") {
      throw invalidParameter(`invalid direction "${direction}": use asc or desc`);
    }
    const sizeText = c.req.query("page_size");
    const pageSize = sizeText === undefined ? 100 : Number(sizeText);
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      throw invalidParameter(`invalid page_size "${sizeText}": use a whole number from 1 to 100`);
    }
    const dateText = c.req.query("date");
    let after = instant("after", c.req.query("after"));
    let until = instant("until", c.req.query("until"));
    if (dateText !== undefined && dateText.trim() !== "") {
      if (after !== undefined || until !== undefined) {
        throw invalidParameter("date cannot be combined with after or until");
      }
      const day = dateText.trim().slice(0, 10);
      if (!DAY.test(day) || parseInstant(dateText.trim()) === null) {
        throw invalidParameter(`invalid date "${dateText}": use a date such as 2026-11-23`);
      }
      // The whole New York day, both ends exclusive as after/until are.
      after = etToEpochMs(day, "00:00") - 1;
      const next = new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);
      until = etToEpochMs(next, "00:00"); // a DST day is 23 or 25 hours long
    }
    const token = c.req.query("page_token");
    let afterFillId: string | undefined;
    if (token !== undefined && token !== "") {
      const fillId = token.split("::")[1];
      if (!fillId || !UUID.test(fillId)) {
        throw invalidParameter(`invalid page_token "${token}": use the id of an activity`);
      }
      afterFillId = fillId.toLowerCase();
    }
    const orderId = c.req.query("order_id");
    if (orderId !== undefined && !UUID.test(orderId)) {
      throw invalidParameter(`invalid order_id "${orderId}": use an order id`);
    }
    const wantsFills = category === "trade_activity" ||
      (category === undefined && (types.length === 0 || types.includes("FILL")));
    if (!wantsFills) return c.json([]);
    const fills = await withTenant(
      deps.sql,
      tenantOf(c.var.user),
      (tx) =>
        listFillActivities(tx, {
          direction,
          limit: pageSize,
          ...(after !== undefined ? { after } : {}),
          ...(until !== undefined ? { until } : {}),
          ...(afterFillId ? { afterFillId } : {}),
          ...(orderId ? { orderId: orderId.toLowerCase() } : {}),
        }),
    );
    return c.json(fills.map(fillActivityJson));
  }

  v2.get("/account/activities", (c) => {
    const types = (c.req.queries("activity_types") ?? []).flatMap((v) => v.split(","))
      .map((t) => t.trim().toUpperCase()).filter((t) => t);
    return answer(c, types);
  });

  v2.get(
    "/account/activities/:activity_type",
    (c) => answer(c, [c.req.param("activity_type").toUpperCase()]),
  );
}
