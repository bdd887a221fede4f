/**
 * One order's path, counted: `POST /api/v1/orders` market orders sent one at a time (no
 * concurrency) through the served order stack, with the database's own counters read before
 * and after (`pg_stat_database`: commits, rows inserted, updated and read; `pg_stat_io`: WAL
 * fsyncs), so a change to the order path shows how many transactions, writes and durable
 * flushes one order costs, beside its latency. Run it with
 * `deno run --allow-all bench/order_probe.ts` (PROBE_ORDERS=300; BENCH_PG_PORT as for the
 * benchmarks).
 *
 * @module
 */
import postgres from "postgres";
import { configureLogging } from "../logging.ts";
import { benchDatabase, percentile } from "./_harness.ts";
import { startOrderStack } from "./_order_stack.ts";

const ORDERS = Number(Deno.env.get("PROBE_ORDERS") ?? "300");

interface Counters {
  commits: number;
  inserted: number;
  updated: number;
  fetched: number;
  returned: number;
  walFsyncs: number;
}

async function counters(sql: postgres.Sql): Promise<Counters> {
  const [db] = await sql<
    { commits: string; inserted: string; updated: string; fetched: string; returned: string }[]
  >`
    select xact_commit::text as commits, tup_inserted::text as inserted,
      tup_updated::text as updated, tup_fetched::text as fetched, tup_returned::text as returned
    from pg_stat_database where datname = current_database()`;
  const [wal] = await sql<{ fsyncs: string | null }[]>`
    select coalesce(sum(fsyncs), 0)::text as fsyncs from pg_stat_io where object = 'wal'`;
  return {
    commits: Number(db!.commits),
    inserted: Number(db!.inserted),
    updated: Number(db!.updated),
    fetched: Number(db!.fetched),
    returned: Number(db!.returned),
    walFsyncs: Number(wal?.fsyncs ?? 0),
  };
}

/** Sends PROBE_ORDERS orders one after another and prints the per-order figures. */
export async function run(): Promise<void> {
  await configureLogging({ level: "error", format: "json", write: () => {} });
  const pg = await benchDatabase("tradewind_probe");
  const stack = await startOrderStack(pg);
  const stats = postgres(pg.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const token = await stack.token("probe");
    const post = (i: number) =>
      fetch(`${stack.baseUrl}/api/v1/orders`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          symbol: "BAC",
          qty: "1",
          side: i % 2 === 0 ? "buy" : "sell",
          type: "market",
          time_in_force: "day",
        }),
      }).then(async (r) => {
        await r.body?.cancel();
        if (r.status !== 201) throw new Error(`Probe order ${i} answered ${r.status}`);
      });
    for (let i = 0; i < 20; i++) await post(i); // warm-up
    // pg_stat counters are flushed by backends at most once a second; settle them.
    const settle = async () => {
      await stats`select pg_stat_force_next_flush()`;
      await stats`select pg_stat_clear_snapshot()`;
    };
    await new Promise((r) => setTimeout(r, 1100));
    await settle();
    const before = await counters(stats);
    const latencies: number[] = [];
    for (let i = 0; i < ORDERS; i++) {
      const t = performance.now();
      await post(i);
      latencies.push(performance.now() - t);
    }
    await new Promise((r) => setTimeout(r, 1100));
    await settle();
    const after = await counters(stats);
    const per = (k: keyof Counters) => ((after[k] - before[k]) / ORDERS).toFixed(2);
    console.log(`Order path probe: ${ORDERS} market orders, one at a time`);
    console.log(
      `  latency p50 ${percentile(latencies, 50).toFixed(3)} ms, p99 ${
        percentile(latencies, 99).toFixed(3)
      } ms`,
    );
    console.log(
      `  per order: ${per("commits")} commits, ${per("walFsyncs")} WAL fsyncs, ${
        per("inserted")
      } rows inserted, ${per("updated")} updated, ${per("fetched")} fetched, ${
        per("returned")
      } returned`,
    );
  } finally {
    await stats.end();
    await stack.stop();
    await pg.stop();
  }
}

if (import.meta.main) await run();
