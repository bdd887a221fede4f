/**
 * Shutdown signals: one Ctrl-C is one drain. The gate on a TestClock, and the real thing: the
 * launcher started in its own process group, signalled as a terminal or systemd signals it.
 */
import { dirname } from "node:path";
import { assert, assertEquals } from "./_assert.ts";
import { TestClock } from "../core/clock.ts";
import { DUPLICATE_SIGNAL_WINDOW_MS, shutdownGate } from "../signals.ts";

const LAUNCHER = new URL("../tradewind", import.meta.url).pathname;

Deno.test("signals: a repeat inside the window is ignored; a later one exits at once", () => {
  const clock = new TestClock(Date.parse("2026-11-23T15:00:00Z"));
  const calls: string[] = [];
  const onSignal = shutdownGate({
    clock,
    drain: (s) => calls.push(`drain ${s}`),
    exitNow: (s) => calls.push(`exit ${s}`),
    ignored: (s, ms) => calls.push(`ignored ${s} +${ms}`),
  });
  onSignal("SIGINT");
  onSignal("SIGINT"); // forwarded by a parent in the same process group
  clock.advance(DUPLICATE_SIGNAL_WINDOW_MS - 1);
  onSignal("SIGTERM");
  assertEquals(calls, ["drain SIGINT", "ignored SIGINT +0", `ignored SIGTERM +499`]);
  clock.advance(1);
  onSignal("SIGINT"); // a person pressing Ctrl-C again
  assertEquals(calls.at(-1), "exit SIGINT");
});

async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buf = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, i);
      buf = buf.slice(i + 1);
    }
  }
  if (buf) yield buf;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test({
    name:
      `signals: ${signal} to the process group of ./tradewind start drains once and stops cleanly`,
    sanitizeOps: false,
    sanitizeResources: false,
  }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "tw-signal-" });
    try {
      // setsid: the launcher leads a process group of its own, as under a terminal or systemd.
      const child = new Deno.Command("setsid", {
        args: [LAUNCHER, "start"],
        env: {
          PATH: `${dirname(Deno.execPath())}:${Deno.env.get("PATH") ?? "/usr/bin:/bin"}`,
          TRADEWIND_DATA_DIR: dir,
          TRADEWIND_ENV_FILE: "none",
          EMBEDDED_PG_PORT: String(freePort()),
          PORT: "0",
          LOG_FORMAT: "json",
          LOG_LEVEL: "info",
        },
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const seen: string[] = [];
      const reader = lines(child.stderr)[Symbol.asyncIterator]();
      while (true) {
        const next = await reader.next();
        if (next.done) throw new Error(`The engine exited before listening:\n${seen.join("\n")}`);
        seen.push(next.value);
        if (next.value.includes("listening on")) break;
      }
      Deno.kill(-child.pid, signal);
      while (true) {
        const next = await reader.next();
        if (next.done) break;
        seen.push(next.value);
      }
      const status = await child.status;
      const log = seen.join("\n");
      assertEquals(seen.filter((l) => l.includes("draining requests")).length, 1, log);
      assert(!log.includes("exiting at once"), log);
      assert(log.includes("Stopped cleanly"), log);
      assertEquals(status.code, 0, log);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
