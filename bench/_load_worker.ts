/**
 * A load generator in its own Worker (its own core): closed-loop clients, or an open-loop
 * paced stream, over real HTTP. Answers latencies in milliseconds and status counts.
 *
 * @module
 */

/** What the worker is asked to do. */
export interface LoadJob {
  url: string;
  /** One bearer token per client (clients take them round-robin). */
  tokens: string[];
  /**
   * Instead of bearer tokens: one set of request headers per client, round-robin (the Alpaca
   * face's `APCA-API-KEY-ID` / `APCA-API-SECRET-KEY`).
   */
  headerSets?: Record<string, string>[];
  /** "hello": GET the url; "orders": POST alternating market buy/sell orders. */
  kind: "hello" | "orders";
  symbol?: string;
  clients: number;
  durationMs: number;
  /** Open loop: requests per second across all clients (closed loop when absent). */
  ratePerSecond?: number;
  warmupMs?: number;
}

/** What the worker answers. */
export interface LoadResult {
  latencies: number[];
  statuses: Record<string, number>;
  elapsedMs: number;
  completed: number;
  firstError?: string;
}

const client = Deno.createHttpClient({ poolMaxIdlePerHost: 256 });

async function one(job: LoadJob, i: number, seq: number): Promise<Response> {
  if (job.kind === "hello") return await fetch(job.url, { client });
  const body = JSON.stringify({
    symbol: job.symbol ?? "BAC",
    qty: "1",
    side: seq % 2 === 0 ? "buy" : "sell",
    type: "market",
    time_in_force: "day",
  });
  return await fetch(job.url, {
    client,
    method: "POST",
    headers: {
      ...(job.headerSets?.length
        ? job.headerSets[i % job.headerSets.length]
        : { Authorization: `Bearer ${job.tokens[i % job.tokens.length]}` }),
      "Content-Type": "application/json",
    },
    body,
  });
}

async function runJob(job: LoadJob, record: boolean, durationMs: number): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let firstError: string | undefined;
  const start = performance.now();
  const deadline = start + durationMs;
  let completed = 0;
  const counters = new Array(job.clients).fill(0);
  const shoot = async (i: number) => {
    const t0 = performance.now();
    try {
      const res = await one(job, i, counters[i]++);
      const text = await res.text();
      if (res.status >= 300 && !firstError) firstError = `${res.status} ${text.slice(0, 300)}`;
      if (record) {
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
      }
    } catch (e) {
      if (!firstError) firstError = String(e);
      if (record) statuses.error = (statuses.error ?? 0) + 1;
    }
    completed++;
  };
  if (job.ratePerSecond) {
    const interval = 1000 / job.ratePerSecond;
    const inflight = new Set<Promise<void>>();
    let n = 0;
    while (performance.now() < deadline) {
      const due = start + n * interval;
      const wait = due - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      const p = shoot(n % job.clients).then(() => {
        inflight.delete(p);
      });
      inflight.add(p);
      n++;
    }
    await Promise.all(inflight);
  } else {
    await Promise.all(Array.from({ length: job.clients }, async (_, i) => {
      while (performance.now() < deadline) await shoot(i);
    }));
  }
  return { latencies, statuses, elapsedMs: performance.now() - start, completed, firstError };
}

(self as unknown as Worker).onmessage = async (e: MessageEvent<LoadJob>) => {
  const job = e.data;
  if (job.warmupMs) await runJob(job, false, job.warmupMs);
  const result = await runJob(job, true, job.durationMs);
  (self as unknown as Worker).postMessage(result);
};
