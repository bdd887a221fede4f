/**
 * Benchmark helpers: timing, percentiles and a uniform printed line per figure. Benchmarks
 * print; they never assert (tests never time anything).
 *
 * @module
 */

/** One printed figure, compared to a target or to a ceiling measured in the same run. */
export interface Figure {
  name: string;
  value: number;
  unit: string;
  /** e.g. ">= 200000" or "<= 5" */
  target?: string;
  /** Whether the target is met (undefined when there is none). */
  ok?: boolean;
  note?: string;
}

const figures: Figure[] = [];

/** A figure's value as printed: grouped integers from 100 up, else 1 or 3 decimals. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  return Math.abs(value) >= 100
    ? Math.round(value).toLocaleString("en-US")
    : value.toFixed(Math.abs(value) >= 10 ? 1 : 3);
}

/** Prints a figure and records it for the summary. */
export function report(figure: Figure): void {
  figures.push(figure);
  const value = formatValue(figure.value);
  const target = figure.target ? `  target ${figure.target}: ${figure.ok ? "met" : "NOT MET"}` : "";
  const note = figure.note ? `  (${figure.note})` : "";
  console.log(`  ${figure.name.padEnd(56)} ${value.padStart(12)} ${figure.unit}${target}${note}`);
}

/** Prints a section heading. */
export function section(title: string): void {
  console.log(`\n${title}`);
}

/** All figures printed so far. */
export function allFigures(): readonly Figure[] {
  return figures;
}

/** The p-th percentile (0–100) of samples, by nearest rank. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Runs `fn` repeatedly for about `ms` milliseconds; answers operations per second. */
export function rate(fn: () => number, ms = 1000): { perSecond: number; ops: number } {
  let ops = 0;
  const start = performance.now();
  let elapsed = 0;
  while ((elapsed = performance.now() - start) < ms) ops += fn();
  return { perSecond: ops / (elapsed / 1000), ops };
}

/** Resident set size in MB, now. */
export function rssMb(): number {
  return Deno.memoryUsage().rss / (1024 * 1024);
}

/** Runs `fn` once; answers its result and the wall time it took in milliseconds. */
export function timed<T>(fn: () => T): { result: T; ms: number } {
  const start = performance.now();
  const result = fn();
  return { result, ms: performance.now() - start };
}

/** Like {@link timed}, for an async `fn`. */
export async function timedAsync<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const start = performance.now();
  const result = await fn();
  return { result, ms: performance.now() - start };
}

/** A fresh database on the benchmarks' embedded PostgreSQL (under `.tradewind-bench/`). */
export interface BenchDatabase {
  /** Owner URL of the fresh database. */
  ownerUrl: string;
  dataDir: string;
  port: number;
  /** Stops the embedded server (if this process started it). */
  stop(): Promise<void>;
}

/**
 * Starts (or adopts) the benchmarks' embedded PostgreSQL (port `BENCH_PG_PORT`, default 54349)
 * and creates database `name` afresh.
 */
export async function benchDatabase(name: string): Promise<BenchDatabase> {
  const { EmbeddedPostgres } = await import("../db/embedded.ts");
  const { default: postgres } = await import("postgres");
  const dataDir = new URL("../.tradewind-bench", import.meta.url).pathname;
  const port = Number(Deno.env.get("BENCH_PG_PORT") ?? "54349");
  const pg = new EmbeddedPostgres({ dataDir, port, disposable: true });
  const serverUrl = await pg.start();
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`drop database if exists ${name} with (force)`);
    await admin.unsafe(`create database ${name}`);
  } finally {
    await admin.end();
  }
  return {
    ownerUrl: serverUrl.replace(/\/postgres$/, `/${name}`),
    dataDir,
    port,
    stop: () => pg.stop(),
  };
}
