/**
 * Runs the benchmarks: every module in {@link BENCHMARKS} in order, or only those named on the
 * command line, then prints a summary of every figure. Benchmarks print; they never assert.
 *
 * @example
 * ```sh
 * deno task bench          # all of them
 * deno task bench paper    # only bench/paper_bench.ts
 * ```
 *
 * @module
 */

import { allFigures, type Figure, formatValue } from "./_harness.ts";

/** A benchmark module: `run()` prints its figures with `report()`. */
export interface BenchModule {
  run(): Promise<void>;
}

/** One registered benchmark: its name on the command line and how to load it. */
export interface BenchEntry {
  name: string;
  load: () => Promise<BenchModule>;
}

/** Every benchmark, in the order they run. Adding one is one line. */
export const BENCHMARKS: readonly BenchEntry[] = [
  { name: "paper", load: () => import("./paper_bench.ts") },
  { name: "orders", load: () => import("./orders_bench.ts") },
  { name: "face", load: () => import("./face_bench.ts") },
  { name: "stream", load: () => import("./stream_bench.ts") },
  { name: "actors", load: () => import("./actors_bench.ts") },
];

function header(): void {
  const v = Deno.version;
  console.log("Tradewind benchmarks");
  console.log(
    `  deno ${v.deno} (v8 ${v.v8}, typescript ${v.typescript}), ${Deno.build.target}, ` +
      `${navigator.hardwareConcurrency} cores, kernel ${Deno.osRelease()}`,
  );
  const load = Deno.loadavg().map((n) => n.toFixed(2)).join(" ");
  console.log(
    `  started ${new Date().toISOString()}, load average ${load} (other work skews figures)`,
  );
}

function summary(groups: { name: string; figures: readonly Figure[] }[]): void {
  const rows = groups.flatMap((g) =>
    g.figures.map((f) => [
      g.name,
      f.name,
      formatValue(f.value),
      f.unit,
      f.target ?? "",
      f.target ? (f.ok ? "met" : "NOT MET") : "",
    ])
  );
  if (rows.length === 0) return;
  const titles = ["bench", "figure", "value", "unit", "target", ""];
  const widths = titles.map((t, i) => Math.max(t.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    "  " +
    cells.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ")
      .trimEnd();
  console.log("\nSummary");
  console.log(line(titles));
  console.log(line(widths.map((w) => "-".repeat(w))));
  for (const r of rows) console.log(line(r));
}

/** Runs the benchmarks named in `args` (all when empty); answers the process exit code. */
export async function main(args: readonly string[]): Promise<number> {
  const unknown = args.filter((a) => !BENCHMARKS.some((b) => b.name === a));
  if (unknown.length > 0) {
    console.error(
      `Cannot run benchmark "${unknown.join('", "')}": known are ${
        BENCHMARKS.map((b) => `"${b.name}"`).join(", ")
      }`,
    );
    return 2;
  }
  const chosen = args.length === 0 ? BENCHMARKS : BENCHMARKS.filter((b) => args.includes(b.name));
  header();
  const groups: { name: string; figures: readonly Figure[] }[] = [];
  let failed = 0;
  const started = performance.now();
  for (const bench of chosen) {
    console.log(`\n== ${bench.name}`);
    const from = allFigures().length;
    const t0 = performance.now();
    try {
      const mod = await bench.load();
      await mod.run();
    } catch (e) {
      failed++;
      console.error(`  Benchmark "${bench.name}" failed: ${e instanceof Error ? e.stack : e}`);
    }
    console.log(`  (${bench.name}: ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    groups.push({ name: bench.name, figures: allFigures().slice(from) });
  }
  summary(groups);
  console.log(`\n  total ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
