/**
 * Input bounds over HTTP: a NUL character in any string a route reads (path, query, body, at
 * any depth) is a 400 with a code, never a 500 from PostgreSQL; decimals and identifiers are
 * bounded at the schema, before any parse or SQL; bodies over 64 KB are a 413; and a refused
 * request leaves no audit row behind.
 */
import { assert, assertEquals } from "../_assert.ts";
import { TREND } from "../_bots.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

const NUL = "x\u0000y";

const ORDER = {
  symbol: "AAPL",
  qty: "1",
  side: "buy",
  type: "limit",
  limit_price: "10",
  time_in_force: "day",
  client_order_id: "cid-1",
};

/** A body each route with a body accepts (or refuses for a reason other than its shape). */
const BODIES: Record<string, unknown> = {
  "post /api/v1/orders": ORDER,
  "post /api/v1/orders/validate": ORDER,
  "patch /api/v1/orders/{id}": { limit_price: "11", client_order_id: "cid-2" },
  "post /api/v1/positions/{symbol}/close": { qty: "1" },
  "put /api/v1/risk/limits": { max_order_notional: "1000" },
  "post /api/v1/risk/halt": { reason: "lunch" },
  "post /api/v1/risk/reduce": { reason: "lunch" },
  "post /api/v1/risk/resume": { reason: "lunch" },
  "post /api/v1/bots": TREND,
  "patch /api/v1/bots/{id}": TREND,
};

interface Operation {
  parameters?: { name: string; in: string }[];
  requestBody?: unknown;
}

const PATH_VALUES: Record<string, string> = {
  id: "00000000-0000-4000-8000-000000000001",
  symbol: "AAPL",
  client_order_id: "cid-1",
};

/** Every string leaf of `value` as a path of keys, with a copy that holds `replacement` there. */
function withEachString(value: unknown, replacement: string): { path: string; value: unknown }[] {
  const out: { path: string; value: unknown }[] = [];
  const walk = (v: unknown, path: (string | number)[]) => {
    if (typeof v === "string") {
      out.push({ path: path.join("."), value: setAt(value, path, replacement) });
    } else if (Array.isArray(v)) v.forEach((item, i) => walk(item, [...path, i]));
    else if (typeof v === "object" && v !== null) {
      for (const [k, item] of Object.entries(v)) walk(item, [...path, k]);
    }
  };
  walk(value, []);
  return out;
}

function setAt(root: unknown, path: (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const [head, ...rest] = path;
  const copy = (Array.isArray(root) ? [...root] : { ...(root as object) }) as Record<
    string | number,
    unknown
  >;
  copy[head!] = setAt(copy[head!], rest, leaf);
  return copy;
}

async function auditCount(t: TestApp, action?: string): Promise<number> {
  const [row] = await t.db.owner<{ n: number }[]>`
    select count(*)::int as n from execution_logs
    where ${action === undefined ? t.db.owner`true` : t.db.owner`action = ${action}`}`;
  return row!.n;
}

async function expect400(
  t: TestApp,
  what: string,
  path: string,
  init: RequestInit & { json?: unknown },
) {
  const res = await t.as("nul", path, init);
  const text = await res.text();
  assertEquals(res.status, 400, `${what}: ${text}`);
  assertEquals(JSON.parse(text).error.code, "VALIDATION_FAILED", `${what}: ${text}`);
}

Deno.test({
  name: "bounds: a NUL in any path, query or body string of any route is a 400, never a 500",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    // One real order, so the by-id routes reach their handlers.
    const placed = await t.as("nul", "/api/v1/orders", { method: "POST", json: ORDER });
    assertEquals(placed.status, 201, await placed.clone().text());
    PATH_VALUES.id = (await placed.json()).id;

    const doc = await (await t.app.request("/openapi.json")).json();
    let checked = 0;
    for (
      const [oaPath, ops] of Object.entries(doc.paths as Record<string, Record<string, Operation>>)
    ) {
      if (!oaPath.startsWith("/api/v1/") || oaPath === "/api/v1/stream") continue;
      for (const [method, op] of Object.entries(ops)) {
        const params = op.parameters ?? [];
        const fill = (over: Record<string, string> = {}) =>
          oaPath.replace(
            /\{([^}]+)\}/g,
            (_, name: string) => encodeURIComponent(over[name] ?? PATH_VALUES[name] ?? "AAPL"),
          );
        const body = BODIES[`${method} ${oaPath}`];
        const init = (json: unknown) => ({
          method: method.toUpperCase(),
          ...(json !== undefined ? { json } : {}),
        });
        for (const p of params.filter((p) => p.in === "path")) {
          await expect400(
            t,
            `${method} ${oaPath} path ${p.name}`,
            fill({ [p.name]: NUL }),
            init(body),
          );
          checked++;
        }
        for (const p of params.filter((p) => p.in === "query")) {
          const url = `${fill()}?${p.name}=${encodeURIComponent(NUL)}`;
          await expect400(t, `${method} ${oaPath} query ${p.name}`, url, init(body));
          checked++;
        }
        if (op.requestBody) {
          assert(body !== undefined, `No sample body for ${method} ${oaPath}: add one to BODIES`);
          for (const variant of withEachString(body, NUL)) {
            await expect400(
              t,
              `${method} ${oaPath} body ${variant.path}`,
              fill(),
              init(variant.value),
            );
            checked++;
          }
          // A NUL in a key is refused too (bot params are stored as jsonb).
          const keyed = { ...(body as object), ["k\u0000"]: 1 };
          await expect400(t, `${method} ${oaPath} body key`, fill(), init(keyed));
          checked++;
        }
      }
    }
    assert(checked > 60, `Only ${checked} fields checked`);
    // Nothing was written for any of them: the one order's three rows are all there is.
    assertEquals(await auditCount(t, "DENIED"), 0);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bounds: the fields the issue named answer 400 VALIDATION_FAILED naming the field",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const cases: [string, string, unknown, string][] = [
      ["POST", "/api/v1/orders", { ...ORDER, symbol: "AA\u0000PL" }, "symbol"],
      ["POST", "/api/v1/orders", { ...ORDER, client_order_id: "a\u0000b" }, "client_order_id"],
      ["POST", "/api/v1/orders/validate", { ...ORDER, symbol: "AAPL\u0000" }, "symbol"],
      ["POST", "/api/v1/risk/halt", { reason: "stop\u0000now" }, "reason"],
      ["POST", "/api/v1/bots", { ...TREND, name: "bot\u0000" }, "name"],
      ["GET", "/api/v1/orders/by-client-id/a%00b", undefined, "client_order_id"],
      // Other control characters make no sense in symbols and ids either.
      ["POST", "/api/v1/orders", { ...ORDER, symbol: "AA\u0001PL" }, "symbol"],
      ["POST", "/api/v1/orders", { ...ORDER, client_order_id: "a\nb" }, "client_order_id"],
      ["GET", "/api/v1/orders/by-client-id/a%07b", undefined, "client_order_id"],
      ["POST", "/api/v1/bots", { ...TREND, name: "two\nlines" }, "name"],
    ];
    for (const [method, path, json, field] of cases) {
      const res = await t.as("nul", path, { method, ...(json !== undefined ? { json } : {}) });
      const body = await res.json();
      assertEquals(res.status, 400, `${method} ${path} ${JSON.stringify(body)}`);
      assertEquals(body.error.code, "VALIDATION_FAILED");
      const paths = body.error.details.issues.map((i: { path: string }) => i.path);
      assertEquals(paths, [field], JSON.stringify(body));
    }
    const res = await t.as("nul", "/api/v1/orders", {
      method: "POST",
      json: ORDER,
      headers: { "Idempotency-Key": "a\tb" },
    });
    assertEquals([res.status, (await res.json()).error.code], [400, "VALIDATION_FAILED"]);
    assertEquals(await auditCount(t), 0);
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "bounds: decimals over 32 characters and long ids are 400s before any parse or audit row",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const over: [Record<string, unknown>, string][] = [
      [{ ...ORDER, qty: "1" + "0".repeat(32) }, "qty"],
      [{ ...ORDER, qty: "1" + "0".repeat(60_000) }, "qty"],
      [{ ...ORDER, limit_price: "0." + "0".repeat(40) + "1" }, "limit_price"],
      [{ ...ORDER, limit_price: 1e300 }, "limit_price"],
      [{ ...ORDER, type: "market", notional: "9".repeat(33), qty: undefined }, "notional"],
      [{ ...ORDER, client_order_id: "c".repeat(129) }, "client_order_id"],
      [{ ...ORDER, symbol: "S".repeat(37) }, "symbol"],
      [
        { ...ORDER, order_class: "bracket", take_profit: { limit_price: "1".repeat(33) } },
        "take_profit.limit_price",
      ],
    ];
    for (const [json, field] of over) {
      for (const path of ["/api/v1/orders", "/api/v1/orders/validate"]) {
        const res = await t.as("big", path, { method: "POST", json });
        const body = await res.json();
        assertEquals(res.status, 400, `${path} ${field}: ${JSON.stringify(body).slice(0, 300)}`);
        assertEquals(body.error.code, "VALIDATION_FAILED");
        assertEquals(body.error.details.issues.map((i: { path: string }) => i.path), [field]);
        assert(JSON.stringify(body).length < 1_000, `${field}: the answer echoes the input`);
      }
    }
    // At the bounds the order is read (and here denied by a rule, with a small audit row).
    const atBounds = await t.as("big", "/api/v1/orders", {
      method: "POST",
      json: { ...ORDER, qty: "9".repeat(32), client_order_id: "c".repeat(128) },
    });
    assertEquals(atBounds.status, 403, await atBounds.clone().text());
    const rows = await t.db.owner<{ action: string; size: number }[]>`
      select action, (pg_column_size(payload) + coalesce(length(reason), 0))::int as size
      from execution_logs`;
    assertEquals(rows.map((r) => r.action), ["DENIED"]);
    assert(rows[0]!.size < 2_048, `DENIED row of ${rows[0]!.size} bytes`);

    // Elsewhere too: closing a position, risk limits, bot sizing.
    const close = await t.as("big", "/api/v1/positions/AAPL/close", {
      method: "POST",
      json: { qty: "1".repeat(33) },
    });
    assertEquals(close.status, 400);
    const limits = await t.as("big", "/api/v1/risk/limits", {
      method: "PUT",
      json: { max_order_notional: "1".repeat(33) },
    });
    assertEquals(limits.status, 400);
    const bot = await t.as("big", "/api/v1/bots", {
      method: "POST",
      json: { ...TREND, sizing: { method: "fixed_qty", qty: "1".repeat(33) } },
    });
    assertEquals(bot.status, 400, await bot.clone().text());
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "bounds: a body over 64 KB is a 413 PAYLOAD_TOO_LARGE", ...DB_TEST },
  async () => {
    const t = await createTestApp({ trading: true });
    try {
      const res = await t.as("big", "/api/v1/orders", {
        method: "POST",
        json: { ...ORDER, qty: "1" + "0".repeat(1_000_000) },
      });
      const body = await res.json();
      assertEquals([res.status, body.error.code], [413, "PAYLOAD_TOO_LARGE"]);
      assert(body.error.message.includes("64 KB"), body.error.message);
      assertEquals(await auditCount(t), 0);
    } finally {
      await t.close();
    }
  },
);
