/**
 * Prometheus metrics: request counts and latency histograms by route and status, rendered in
 * the text exposition format at `/metrics`, and who may read them: admins, or a scraper that
 * presents `METRICS_TOKEN` as its bearer.
 *
 * @module
 */
import { createMiddleware } from "hono/factory";
import type { Sql } from "postgres";
import { type Authenticator, type AuthVariables, bearerToken, requireAuth } from "./auth.ts";
import { ApiError } from "./errors.ts";

async function digest(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
}

/** Compares two secrets in time that does not depend on where they differ. */
async function sameSecret(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([digest(a), digest(b)]);
  let diff = 0;
  for (let i = 0; i < x.length; i++) diff |= x[i]! ^ y[i]!;
  return diff === 0;
}

/**
 * Middleware guarding `/metrics`: the bearer `metricsToken` (when configured) passes as is;
 * otherwise the token must be a valid user token (401 `UNAUTHORIZED`) of an admin (403
 * `FORBIDDEN`), since the figures describe every user's traffic.
 */
export function requireMetricsAccess(auth: Authenticator, sql: Sql, metricsToken?: string) {
  const userAuth = requireAuth(auth, sql);
  return createMiddleware<{ Variables: AuthVariables }>(async (c, next) => {
    const token = bearerToken(c.req.header("authorization"));
    if (metricsToken && token && await sameSecret(token, metricsToken)) return await next();
    await userAuth(c, async () => {
      if (c.var.user.role !== "admin") {
        throw new ApiError(
          403,
          "FORBIDDEN",
          `Only an admin or the METRICS_TOKEN bearer may read /metrics, not "${c.var.user.username}" (role "${c.var.user.role}")`,
        );
      }
      await next();
    });
  });
}

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  labels: string;
  count: number;
  sum: number;
  buckets: number[];
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** In-process metric registry. */
export class Metrics {
  #requests = new Map<string, Series>();
  #gauges = new Map<string, { help: string; read: () => number }>();
  #counters = new Map<string, { help: string; values: Map<string, number> }>();

  /** Records one HTTP request. `route` is the matched pattern, never the raw path. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = `method="${escapeLabel(method)}",route="${
      escapeLabel(route)
    }",status="${status}"`;
    let s = this.#requests.get(labels);
    if (!s) {
      s = { labels, count: 0, sum: 0, buckets: BUCKETS.map(() => 0) };
      this.#requests.set(labels, s);
    }
    s.count++;
    s.sum += seconds;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.buckets[i]!++;
  }

  /** Registers a gauge read at scrape time. */
  gauge(name: string, help: string, read: () => number): void {
    this.#gauges.set(name, { help, read });
  }

  /** Adds to a named counter with optional labels (`key="value",…`). */
  inc(name: string, help: string, labels = "", by = 1): void {
    let c = this.#counters.get(name);
    if (!c) {
      c = { help, values: new Map() };
      this.#counters.set(name, c);
    }
    c.values.set(labels, (c.values.get(labels) ?? 0) + by);
  }

  /** The text exposition format. */
  render(): string {
    const out: string[] = [];
    out.push("# HELP tradewind_http_requests_total HTTP requests by route and status");
    out.push("# TYPE tradewind_http_requests_total counter");
    for (const s of this.#requests.values()) {
      out.push(`tradewind_http_requests_total{${s.labels}} ${s.count}`);
    }
    out.push("# HELP tradewind_http_request_duration_seconds HTTP request latency");
    out.push("# TYPE tradewind_http_request_duration_seconds histogram");
    for (const s of this.#requests.values()) {
      BUCKETS.forEach((b, i) =>
        out.push(
          `tradewind_http_request_duration_seconds_bucket{${s.labels},le="${b}"} ${s.buckets[i]}`,
        )
      );
      out.push(`tradewind_http_request_duration_seconds_bucket{${s.labels},le="+Inf"} ${s.count}`);
      out.push(`tradewind_http_request_duration_seconds_sum{${s.labels}} ${s.sum}`);
      out.push(`tradewind_http_request_duration_seconds_count{${s.labels}} ${s.count}`);
    }
    for (const [name, c] of this.#counters) {
      out.push(`# HELP ${name} ${c.help}`, `# TYPE ${name} counter`);
      for (const [labels, v] of c.values) out.push(`${name}${labels ? `{${labels}}` : ""} ${v}`);
    }
    for (const [name, g] of this.#gauges) {
      out.push(`# HELP ${name} ${g.help}`, `# TYPE ${name} gauge`, `${name} ${g.read()}`);
    }
    return out.join("\n") + "\n";
  }
}
