/**
 * The order path over HTTP (issue 4): `POST /api/v1/orders` market orders filled by the paper
 * venue, with the ledger and audit committed, at 1, 16 and 64 concurrent clients, and paced at
 * 500 orders/s; beside two ceilings measured in the same run on the same machine: Hono's
 * plain-text response rate and a one-row durable INSERT rate against the same PostgreSQL.
 *
 * It starts its own embedded PostgreSQL under `.tradewind-bench/` (port 54349, or BENCH_PG_PORT)
 * and, after the run, verifies the audit chains and that every position is the sum of its fills.
 *
 * @module
 */
import { Hono } from "hono";
import postgres from "postgres";
import { verifyAudit } from "../db/audit.ts";
import { configureLogging } from "../logging.ts";
import { benchDatabase, percentile, report, section } from "./_harness.ts";
import { load, startOrderStack } from "./_order_stack.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "5");
/** Client counts to run (BENCH_CLIENTS=16 for one); ceilings are skipped with BENCH_CEILINGS=0. */
const CLIENTS = (Deno.env.get("BENCH_CLIENTS") ?? "1,16,64").split(",").map(Number);
const CEILINGS = Deno.env.get("BENCH_CEILINGS") !== "0";

async function insertCeiling(url: string, clients: number, ms: number): Promise<number> {
  const sql = postgres(url, { max: clients, onnotice: () => {} });
  await sql`create table if not exists bench_inserts (id bigserial primary key, v integer not null, at timestamptz not null default now())`;
  let done = 0;
  const deadline = performance.now() + ms;
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async (_, i) => {
    while (performance.now() < deadline) {
      await sql`insert into bench_inserts (v) values (${i})`;
      done++;
    }
  }));
  const rate = done / ((performance.now() - start) / 1000);
  await sql`drop table bench_inserts`;
  await sql.end();
  return rate;
}

/**
 * After the run: `./tradewind audit verify`'s check of every chain, and every position equal to
 * the sum of its fills.
 */
async function checkLedger(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const v = await verifyAudit(sql);
    report({
      name: "after the run: audit rows verified",
      value: v.rows,
      unit: "rows",
      target: "intact",
      ok: v.ok,
      ...(v.ok ? {} : { note: `chain ${v.chain} broken at seq ${v.seq}: ${v.problem}` }),
    });
    const [{ n }] = await sql<[{ n: number }]>`
      select count(*)::int as n from (
        select coalesce(p.user_id, f.user_id) as user_id, coalesce(p.symbol, f.symbol) as symbol,
               coalesce(p.qty, 0) as qty, coalesce(f.qty, 0) as filled
        from positions p
        full join (select user_id, symbol,
                          sum(case side when 'buy' then qty else -qty end) as qty
                   from fills group by user_id, symbol) f
          on f.user_id = p.user_id and f.symbol = p.symbol) x
      where qty <> filled`;
    report({
      name: "after the run: positions not equal to the sum of fills",
      value: n,
      unit: "positions",
      target: "0",
      ok: n === 0,
    });
  } finally {
    await sql.end();
  }
}

/** Runs the order-path benchmark. */
export async function run(): Promise<void> {
  await configureLogging({ level: "error", format: "json", write: () => {} });
  section(`Order path over HTTP (${SECONDS}s per run; ceilings measured in the same run)`);

  // Ceiling 1: Hono's plain-text response rate on this machine, same load generator.
  let helloRate = NaN;
  if (CEILINGS) {
    const hello = new Hono().get("/", (c) => c.text("ok"));
    const helloServer = Deno.serve(
      { port: 0, hostname: "127.0.0.1", onListen: () => {} },
      hello.fetch,
    );
    const h = await load({
      url: `http://127.0.0.1:${helloServer.addr.port}/`,
      tokens: [],
      kind: "hello",
      clients: 64,
      durationMs: SECONDS * 1000,
      warmupMs: 1000,
    });
    await helloServer.shutdown();
    helloRate = h.completed / (h.elapsedMs / 1000);
    report({
      name: "ceiling: Hono plain-text responses (64 clients)",
      value: helloRate,
      unit: "req/s",
    });
  }

  // The database: a fresh embedded cluster database for the run.
  const pg = await benchDatabase("tradewind_bench");
  const ownerUrl = pg.ownerUrl;
  try {
    // Ceiling 2: one-row durable INSERTs, 8 and 64 clients.
    for (const clients of CEILINGS ? [8, 64] : []) {
      const r = await insertCeiling(ownerUrl, clients, SECONDS * 1000);
      report({
        name: `ceiling: one-row INSERT transactions (${clients} clients)`,
        value: r,
        unit: "tx/s",
      });
    }

    const stack = await startOrderStack(pg);
    const url = `${stack.baseUrl}/api/v1/orders`;
    const tokens = await Promise.all(
      Array.from({ length: 64 }, (_, i) => stack.token(`bench${i}`)),
    );
    try {
      for (const clients of CLIENTS) {
        const r = await load({
          url,
          tokens,
          kind: "orders",
          symbol: "BAC",
          clients,
          durationMs: SECONDS * 1000,
          warmupMs: 1000,
        });
        const ok = r.statuses["201"] ?? 0;
        const rate = ok / (r.elapsedMs / 1000);
        const p50 = percentile(r.latencies, 50);
        const p99 = percentile(r.latencies, 99);
        const errors = r.latencies.length - ok;
        report({
          name: `POST /orders at ${clients} client${clients > 1 ? "s" : ""}: throughput`,
          value: rate,
          unit: "orders/s",
          ...(clients === 64 ? { target: ">= 2000", ok: rate >= 2000 } : {}),
          note: `${
            Number.isFinite(helloRate)
              ? `${(rate / helloRate * 100).toFixed(1)}% of Hono ceiling`
              : "no ceiling run"
          }${
            errors
              ? `; ${errors} non-201${r.firstError ? `: ${r.firstError.slice(0, 120)}` : ""}`
              : ""
          }`,
        });
        report({
          name: `POST /orders at ${clients} client${clients > 1 ? "s" : ""}: p50`,
          value: p50,
          unit: "ms",
        });
        report({
          name: `POST /orders at ${clients} client${clients > 1 ? "s" : ""}: p99`,
          value: p99,
          unit: "ms",
        });
      }
      if (!CLIENTS.includes(64)) return;
      const paced = await load({
        url,
        tokens,
        kind: "orders",
        symbol: "BAC",
        clients: 64,
        durationMs: SECONDS * 1000,
        ratePerSecond: 500,
        warmupMs: 500,
      });
      const okPaced = paced.statuses["201"] ?? 0;
      const p99 = percentile(paced.latencies, 99);
      report({
        name: "POST /orders paced at 500 orders/s: achieved",
        value: okPaced / (paced.elapsedMs / 1000),
        unit: "orders/s",
      });
      report({
        name: "POST /orders paced at 500 orders/s: p50",
        value: percentile(paced.latencies, 50),
        unit: "ms",
      });
      report({
        name: "POST /orders paced at 500 orders/s: p99",
        value: p99,
        unit: "ms",
        target: "< 25",
        ok: p99 < 25,
      });
    } finally {
      await stack.stop();
      await checkLedger(ownerUrl);
    }
  } finally {
    await pg.stop();
  }
}

if (import.meta.main) await run();
