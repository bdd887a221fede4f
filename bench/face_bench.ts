/**
 * The Alpaca face's cost (issue 11): `POST /v2/orders` (API key headers, Alpaca's body and
 * answer) against `POST /api/v1/orders` (bearer token), in the same run on the same served
 * stack, at the same client counts. Each count runs both faces in alternating order over
 * `BENCH_ROUNDS` rounds (default 2), so drift (a growing ledger, a busy machine) falls on both
 * alike. The target: the face costs at most 10% more, i.e. its orders/s is at least
 * 1/1.1 of /api/v1's.
 *
 * Both faces place the same market orders (1 share, buy and sell alternating) through the
 * same engine; each face has its own 64 users so neither inherits the other's ledger rows.
 * Beside the throughput, the front doors alone, in process: the bearer-token check of
 * `/api/v1` and the API-key check of `/v2` (with its short cache), per request.
 *
 * @module
 */
import { Hono } from "hono";
import { createApiKey } from "../db/api_keys.ts";
import { withTenant } from "../db/database.ts";
import { configureLogging } from "../logging.ts";
import { requireApiKey } from "../routes/alpaca/auth.ts";
import { requireAuth } from "../routes/auth.ts";
import { benchDatabase, percentile, report, section } from "./_harness.ts";
import { load, type OrderStack, startOrderStack } from "./_order_stack.ts";
import type { LoadResult } from "./_load_worker.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? "5");
/** Client counts to run (BENCH_CLIENTS=16 for one). */
const CLIENTS = (Deno.env.get("BENCH_CLIENTS") ?? "1,16,64").split(",").map(Number);
/** Rounds per client count; each round runs both faces, the first face alternating. */
const ROUNDS = Math.max(1, Number(Deno.env.get("BENCH_ROUNDS") ?? "2"));
/** The face may cost this much more than /api/v1 (issue 11: 10%). */
const MAX_EXTRA_COST = 0.10;
const USERS = 64;

type Face = "api/v1" | "v2";

interface Tally {
  ok: number;
  ms: number;
  latencies: number[];
  errors: number;
  firstError?: string;
}

async function credentials(stack: OrderStack) {
  const tokens = await Promise.all(
    Array.from({ length: USERS }, (_, i) => stack.token(`face-bench-v1-${i}`)),
  );
  const headerSets: Record<string, string>[] = [];
  for (let i = 0; i < USERS; i++) {
    const [row] = await stack.db.sql<{ id: string }[]>`
      select tradewind_ensure_user(${`face-bench-v2-${i}`}, 'trader') as id`;
    const tenant = { userId: row!.id, role: "trader" as const };
    const key = await withTenant(stack.db.sql, tenant, (tx) => createApiKey(tx, tenant.userId));
    headerSets.push({ "APCA-API-KEY-ID": key.keyId, "APCA-API-SECRET-KEY": key.secret });
  }
  return { tokens, headerSets };
}

/** Microseconds per request through `app` (a bare front door and an empty answer), in process. */
async function perRequestUs(app: Hono, headers: Record<string, string>): Promise<number> {
  const one = async () => {
    const res = await app.request("/", { headers });
    if (res.status !== 204) {
      throw new Error(`Front door answered ${res.status}: ${await res.text()}`);
    }
  };
  for (let i = 0; i < 500; i++) await one();
  const n = 3000;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await one();
  return (performance.now() - t0) / n * 1000;
}

/** The two front doors alone: bearer token (`/api/v1`) and API key (`/v2`). */
async function frontDoors(
  stack: OrderStack,
  token: string,
  keyHeaders: Record<string, string>,
): Promise<void> {
  const bearer = new Hono();
  bearer.use("*", requireAuth(stack.auth, stack.db.sql));
  bearer.get("/", (c) => c.body(null, 204));
  const apiKey = new Hono();
  apiKey.use("*", requireApiKey(stack.db.sql));
  apiKey.get("/", (c) => c.body(null, 204));
  const us = { bearer: 0, key: 0 };
  for (let round = 0; round < 2; round++) {
    us.bearer += await perRequestUs(bearer, { Authorization: `Bearer ${token}` }) / 2;
    us.key += await perRequestUs(apiKey, keyHeaders) / 2;
  }
  report({
    name: "front door of /api/v1: bearer token check",
    value: us.bearer,
    unit: "µs/request",
  });
  report({ name: "front door of /v2: API key check (cached)", value: us.key, unit: "µs/request" });
}

function add(tally: Tally, r: LoadResult, okStatus: string): void {
  const ok = r.statuses[okStatus] ?? 0;
  tally.ok += ok;
  tally.ms += r.elapsedMs;
  tally.latencies.push(...r.latencies);
  tally.errors += r.latencies.length - ok + (r.statuses.error ?? 0);
  if (!tally.firstError && r.firstError) tally.firstError = r.firstError;
}

/** Runs the face benchmark. */
export async function run(): Promise<void> {
  await configureLogging({ level: "error", format: "json", write: () => {} });
  section(
    `POST /v2/orders (Alpaca face) vs POST /api/v1/orders: same run, same clients (${SECONDS}s x ${ROUNDS} rounds per face and count)`,
  );
  const pg = await benchDatabase("tradewind_bench_face");
  try {
    const stack = await startOrderStack(pg);
    try {
      const { tokens, headerSets } = await credentials(stack);
      await frontDoors(stack, tokens[0]!, headerSets[0]!);
      const job = (face: Face, clients: number) =>
        load({
          url: `${stack.baseUrl}/${face}/orders`,
          tokens,
          ...(face === "v2" ? { headerSets } : {}),
          kind: "orders",
          symbol: "BAC",
          clients,
          durationMs: SECONDS * 1000,
          warmupMs: 1000,
        });
      for (const clients of CLIENTS) {
        const tallies: Record<Face, Tally> = {
          "api/v1": { ok: 0, ms: 0, latencies: [], errors: 0 },
          v2: { ok: 0, ms: 0, latencies: [], errors: 0 },
        };
        for (let round = 0; round < ROUNDS; round++) {
          const order: Face[] = round % 2 === 0 ? ["api/v1", "v2"] : ["v2", "api/v1"];
          for (const face of order) {
            add(tallies[face], await job(face, clients), face === "v2" ? "200" : "201");
          }
        }
        const label = `${clients} client${clients > 1 ? "s" : ""}`;
        const rate = (t: Tally) => t.ok / (t.ms / 1000);
        const note = (t: Tally) =>
          t.errors
            ? `${t.errors} failed${t.firstError ? `: ${t.firstError.slice(0, 120)}` : ""}`
            : undefined;
        const v1 = rate(tallies["api/v1"]);
        const v2 = rate(tallies.v2);
        const n1 = note(tallies["api/v1"]);
        const n2 = note(tallies.v2);
        report({
          name: `POST /api/v1/orders at ${label}`,
          value: v1,
          unit: "orders/s",
          ...(n1 ? { note: n1 } : {}),
        });
        report({
          name: `POST /v2/orders at ${label}`,
          value: v2,
          unit: "orders/s",
          ...(n2 ? { note: n2 } : {}),
        });
        const extra = v1 / v2 - 1;
        report({
          name: `/v2 face extra cost per order at ${label}`,
          value: extra * 100,
          unit: "%",
          target: `<= ${MAX_EXTRA_COST * 100}`,
          ok: extra <= MAX_EXTRA_COST,
          note: `/v2 at ${(v2 / v1 * 100).toFixed(1)}% of /api/v1's orders/s`,
        });
        for (const face of ["api/v1", "v2"] as const) {
          const { latencies } = tallies[face];
          report({
            name: `POST /${face}/orders at ${label}: p50`,
            value: percentile(latencies, 50),
            unit: "ms",
            note: `p99 ${percentile(latencies, 99).toFixed(1)} ms`,
          });
        }
      }
    } finally {
      await stack.stop();
    }
  } finally {
    await pg.stop();
  }
}

if (import.meta.main) await run();
