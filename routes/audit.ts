/**
 * The audit trail over HTTP: `GET /audit` lists `execution_logs` rows in sequence order, as JSON
 * pages or, with `Accept: text/csv`, as a CSV export.
 *
 * Row-level security decides what a caller sees: a trader their own rows, admin and compliance
 * everyone's. The read model (db/read_models/audit.ts) queries in a transaction acting for the
 * caller, so no filter here can widen it.
 *
 * @module
 */
import type { Sql } from "postgres";
import type { Hono } from "hono";
import { z } from "zod";
import type { Tenant } from "../db/database.ts";
import { type AuditFilter, type AuditItem, readAuditRows } from "../db/read_models/audit.ts";
import { userIdByName } from "../db/users.ts";
import { type AppEnv, type ResourceDeps, resourceTarget } from "./app.ts";
import { defineRoute } from "./openapi.ts";
import { parseInstant } from "./params.ts";
import { tenantOf } from "./auth.ts";

const MAX_LIMIT = 1000;
const DEFAULT_LIMIT = 100;
const EXPORT_BATCH = 1000;

/** Columns of an audit item, in CSV order. */
export const AUDIT_COLUMNS = [
  "seq",
  "ts",
  "user_id",
  "username",
  "order_id",
  "bot_id",
  "client_order_id",
  "action",
  "status",
  "reason",
  "payload",
  "correlation_id",
  "causation_id",
  "hash",
  "prev_hash",
] as const;

export type { AuditItem };

const AuditItemJson = z.object({
  seq: z.string().describe("Position in the hash chain (a bigint as a string)"),
  ts: z.string().describe("RFC-3339, UTC, microseconds"),
  user_id: z.string().nullable(),
  username: z.string().nullable().describe("Null when the user is not visible to the caller"),
  order_id: z.string().nullable(),
  bot_id: z.string().nullable(),
  client_order_id: z.string().nullable(),
  action: z.string(),
  status: z.string(),
  reason: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
  correlation_id: z.string().nullable(),
  causation_id: z.string().nullable(),
  hash: z.string(),
  prev_hash: z.string(),
}).meta({ id: "AuditEntry" });

const AuditPage = z.object({
  items: z.array(AuditItemJson),
  next_cursor: z.string().nullable().describe(
    "Pass as `cursor` for the next page; null at the end",
  ),
});

/**
 * An RFC-3339 time or a date (midnight in New York), kept to the microsecond (the audit log's
 * precision) as UTC text, so an item's own `ts` works as a bound.
 */
const AuditTime = z.string().trim().transform((text, ctx) => {
  const ms = parseInstant(text);
  if (ms === null || ms < 0 || ms >= Date.UTC(10000, 0, 1)) {
    ctx.addIssue({
      code: "custom",
      message:
        `Expected an RFC-3339 time such as 2026-11-23T14:30:00.123456Z or a date such as 2026-11-23, got "${text}"`,
    });
    return z.NEVER;
  }
  const fraction = /[Tt]\d{2}:\d{2}:\d{2}\.(\d+)/.exec(text)?.[1] ?? "";
  const micros = fraction.padEnd(6, "0").slice(3, 6);
  return new Date(ms).toISOString().replace("Z", `${micros}Z`);
});

const AuditQuery = z.object({
  user: z.string().trim().regex(/^[A-Za-z0-9._@-]{1,64}$/, "Must be a username").optional()
    .describe("Only this user's rows (traders only ever see their own)"),
  order_id: z.guid({ error: "Must be an order id (a UUID)" }).optional(),
  action: z.string().trim().toUpperCase().regex(
    /^[A-Z_]{1,64}$/,
    "Must be an action such as FILLED",
  )
    .optional(),
  after: AuditTime.optional().describe("Only rows stamped after this time (exclusive)"),
  until: AuditTime.optional().describe("Only rows stamped before this time (exclusive)"),
  limit: z.coerce.number().int().min(1).max(MAX_LIMIT).optional()
    .describe(
      `1 to ${MAX_LIMIT}; default ${DEFAULT_LIMIT} (a CSV export without it has every row)`,
    ),
  cursor: z.string().regex(/^\d{1,18}$/, "Must be a next_cursor from a previous page").optional(),
  format: z.enum(["json", "csv"]).optional().describe("Overrides the Accept header"),
}).superRefine((q, ctx) => {
  if (q.after !== undefined && q.until !== undefined && q.until <= q.after) {
    ctx.addIssue({ code: "custom", path: ["until"], message: "Must be after after" });
  }
});

/** Reads up to `limit` rows after `afterSeq`; `next` is the cursor when more rows follow. */
async function fetchPage(
  sql: Sql,
  tenant: Tenant,
  filter: AuditFilter | null,
  afterSeq: string,
  limit: number,
): Promise<{ items: AuditItem[]; next: string | null }> {
  if (filter === null) return { items: [], next: null };
  const rows = await readAuditRows(sql, tenant, { filter, afterSeq, limit: limit + 1 });
  const more = rows.length > limit;
  const items = more ? rows.slice(0, limit) : rows;
  return { items, next: more ? items[items.length - 1]!.seq : null };
}

/**
 * First characters that make a spreadsheet read a cell as a formula (OWASP's CSV injection
 * list: `=`, `+`, `-`, `@`, tab, carriage return; ASVS adds NUL; also line feed and the
 * full-width `＝＋－＠` some spreadsheets accept), plus `'` itself so that the neutralising
 * quote can always be taken off again.
 */
const FORMULA_START = /^[=+\-@\t\r\n\0'\uFF1D\uFF0B\uFF0D\uFF20]/;

/**
 * One CSV cell, safe to open in a spreadsheet: a value beginning with a formula character is
 * prefixed with `'` (remove one leading `'` from a cell to get the stored text back), and every
 * value is quoted (RFC 4180); null is an empty, unquoted cell. No column of the export is a
 * number a spreadsheet should compute with: `seq` is an unsigned bigint, the rest are
 * identifiers, times, hashes and text, so every cell gets the same treatment.
 */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  let text = typeof value === "string" ? value : JSON.stringify(value);
  if (FORMULA_START.test(text)) text = "'" + text;
  return `"${text.replaceAll('"', '""')}"`;
}

/** One CSV record (CRLF-terminated) of an audit item; `payload` is compact JSON. */
export function auditCsvLine(item: AuditItem): string {
  return AUDIT_COLUMNS.map((k) => csvCell(item[k])).join(",") + "\r\n";
}

/** Whether the Accept header asks for CSV rather than JSON. */
function wantsCsv(accept: string | undefined): boolean {
  if (!accept) return false;
  let csv = 0, json = 0;
  for (const part of accept.split(",")) {
    const [type, ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q)) continue;
    if (type === "text/csv") csv = Math.max(csv, q);
    if (type === "application/json") json = Math.max(json, q);
  }
  return csv > 0 && csv >= json;
}

function stamp(tsMs: number): string {
  return new Date(tsMs).toISOString().replace(/[-:]/g, "").replace(/\.\d+/, "");
}

/**
 * Mounts `GET /audit`. Throws 400 `VALIDATION_FAILED` for bad filters; a filter on a user the
 * caller may not see answers an empty list.
 */
export function auditRoutes({ trading: deps, sql, spec }: ResourceDeps): Hono<AppEnv> {
  const target = resourceTarget(spec);
  defineRoute(target, {
    method: "get",
    path: "/audit",
    summary: "The audit trail, in sequence order",
    description: "Rows of the hash-chained audit log: a trader sees their own, admin and " +
      "compliance everyone's. Pages follow `next_cursor`. With `Accept: text/csv` (or " +
      "`format=csv`) the answer is a CSV export (RFC 4180, payload as compact JSON): every " +
      "matching row, or one page with the next cursor in `X-Next-Cursor` when `limit` is given. " +
      "Every cell is quoted, and a cell beginning with = + - @ tab, CR, LF or ' gets a leading " +
      "' so a spreadsheet cannot run it as a formula (remove one leading ' to get the value).",
    tags: ["audit"],
    query: AuditQuery,
    headers: [{ name: "Accept", description: "application/json (default) or text/csv" }],
    responses: {
      200: { description: "A page of audit rows (or text/csv)", schema: AuditPage },
    },
  }, async (c, { query }) => {
    const user = c.var.user;
    const tenant = tenantOf(user);
    let filter: AuditFilter | null = {
      orderId: query.order_id,
      action: query.action,
      after: query.after,
      until: query.until,
    };
    if (query.user !== undefined) {
      const userId = await userIdByName(sql, query.user);
      filter = userId ? { ...filter, userId } : null;
    }
    const cursor = query.cursor ?? "0";
    const csv = query.format === undefined
      ? wantsCsv(c.req.header("accept"))
      : query.format === "csv";
    c.header("Vary", "Accept");
    if (!csv) {
      const page = await fetchPage(sql, tenant, filter, cursor, query.limit ?? DEFAULT_LIMIT);
      return c.json({ items: page.items, next_cursor: page.next });
    }

    const headers: Record<string, string> = {
      "Content-Type": "text/csv; charset=utf-8",
      "Content-Disposition": `attachment; filename="tradewind-audit-${
        stamp(deps.clock.now())
      }.csv"`,
    };
    const header = AUDIT_COLUMNS.join(",") + "\r\n";
    if (query.limit !== undefined) {
      const page = await fetchPage(sql, tenant, filter, cursor, query.limit);
      if (page.next !== null) headers["X-Next-Cursor"] = page.next;
      return c.body(header + page.items.map(auditCsvLine).join(""), 200, headers);
    }
    // The whole export, streamed in batches, each read in its own tenant transaction. The first
    // batch is read before answering so a failure still gets an error status.
    const encoder = new TextEncoder();
    let page = await fetchPage(sql, tenant, filter, cursor, EXPORT_BATCH);
    let first = true;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (first) {
          first = false;
          controller.enqueue(encoder.encode(header + page.items.map(auditCsvLine).join("")));
          if (page.next === null) controller.close();
          return;
        }
        page = await fetchPage(sql, tenant, filter, page.next!, EXPORT_BATCH);
        controller.enqueue(encoder.encode(page.items.map(auditCsvLine).join("")));
        if (page.next === null) controller.close();
      },
    });
    return c.body(body, 200, headers);
  });
  return target.app;
}
