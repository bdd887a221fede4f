/**
 * Supervision of Worker-hosted actors: a behaviour that throws is restarted in a fresh Worker
 * and, past R restarts in T, escalated to error while its sibling keeps running; a Worker stuck
 * in `while (true) {}` is caught by the heartbeat, terminated and restarted; a hung pooled host
 * takes its neighbours down and they come back too.
 *
 * Backoff runs on a test clock. The hang tests use real time for heartbeats (a hung Worker can
 * only be observed by its silence) with short intervals; they assert outcomes, not durations.
 */
import { assert, assertEquals } from "../../_assert.ts";
import { TestClock } from "../../../core/clock.ts";
import type { ActorHandle } from "../../../actors/runtime/actor.ts";
import { actorChild } from "../../../actors/runtime/placement.ts";
import { WorkerPool } from "../../../actors/runtime/pool.ts";
import { Supervisor, type SupervisorEvent } from "../../../actors/runtime/supervisor.ts";
import { type CounterMsg, ref } from "./_behaviours.ts";
import { Log } from "./_helpers.ts";

type Counter = ActorHandle<CounterMsg>;

Deno.test("restart: a throwing Worker actor is restarted, then escalated; its sibling runs on", async () => {
  const clock = new TestClock(0);
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([
    actorChild({ id: "bot-a", behaviour: ref("counter") }, "worker", { clock }),
    actorChild({ id: "bot-b", behaviour: ref("counter"), args: { start: 100 } }, "worker", {
      clock,
    }),
  ], {
    clock,
    maxRestarts: 2,
    withinMs: 60_000,
    backoff: { initialMs: 100, factor: 2 },
    onEvent: events.push,
  });
  await sup.start();
  try {
    const sibling = sup.handle<Counter>("bot-b")!;
    assertEquals(await sibling.request({ type: "add", n: 1 }), 101);

    for (let incarnation = 1; incarnation <= 2; incarnation++) {
      const bot = sup.handle<Counter>("bot-a")!;
      assertEquals(await bot.request({ type: "add", n: 1 }), 1); // fresh state each time
      bot.send({ type: "throw", message: `Bad bar ${incarnation}` });
      const scheduled = await events.waitFor(
        (e) => e.type === "restart_scheduled" && e.attempt === incarnation,
        `restart ${incarnation}`,
      );
      assert(scheduled.type === "restart_scheduled");
      assertEquals(scheduled.delayMs, 100 * 2 ** (incarnation - 1));
      assertEquals(sup.handle("bot-a"), undefined);
      clock.advance(scheduled.delayMs);
      await events.waitFor(
        (e) => e.type === "started" && e.id === "bot-a" && e.incarnation === incarnation + 1,
        `incarnation ${incarnation + 1}`,
      );
      // The sibling's Worker never noticed.
      assertEquals(await sibling.request({ type: "add", n: 1 }), 101 + incarnation);
    }

    sup.handle<Counter>("bot-a")!.send({ type: "throw", message: "Bad bar 3" });
    const escalated = await events.waitFor((e) => e.type === "escalated", "escalation");
    assert(escalated.type === "escalated");
    assertEquals(escalated.id, "bot-a");
    assertEquals(escalated.error.code, "ESCALATED");
    assert(escalated.error.message.endsWith("last exit: Bad bar 3"));
    const info = sup.info("bot-a")!;
    assertEquals([info.status, info.incarnation], ["error", 3]);
    clock.advance(10_000);
    assertEquals(sup.info("bot-a")!.status, "error");
    assertEquals(await sibling.request({ type: "get" }), { total: 103, seqs: [] });
    assertEquals(sup.info("bot-b")!.incarnation, 1);
  } finally {
    await sup.stop();
  }
});

Deno.test("restart: a Worker stuck in an infinite loop is caught by the heartbeat and restarted", async () => {
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([
    actorChild({ id: "stuck", behaviour: ref("counter") }, "worker"),
    actorChild({ id: "healthy", behaviour: ref("counter") }, "worker"),
  ], {
    heartbeat: { intervalMs: 20, timeoutMs: 400 },
    backoff: { initialMs: 0 },
    onEvent: events.push,
  });
  await sup.start();
  try {
    const healthy = sup.handle<Counter>("healthy")!;
    await healthy.request({ type: "add", n: 5 });
    sup.handle<Counter>("stuck")!.send({ type: "hang" });

    const timeout = await events.waitFor((e) => e.type === "heartbeat_timeout", "heartbeat");
    assertEquals(timeout, { type: "heartbeat_timeout", id: "stuck", incarnation: 1 });
    const exited = await events.waitFor((e) => e.type === "exited" && e.id === "stuck", "exit");
    assert(exited.type === "exited" && exited.exit.kind === "crash");
    assertEquals(exited.exit.error.code, "HEARTBEAT_TIMEOUT");
    await events.waitFor(
      (e) => e.type === "started" && e.id === "stuck" && e.incarnation === 2,
      "restart",
    );
    const fresh = sup.handle<Counter>("stuck")!;
    assertEquals(await fresh.request({ type: "echo", value: "alive" }), "alive");
    // The other bot's Worker was never touched.
    assertEquals(await healthy.request({ type: "get" }), { total: 5, seqs: [] });
    assertEquals(sup.info("healthy")!.incarnation, 1);
    assert(!events.items.some((e) => e.type === "exited" && e.id === "healthy"));
  } finally {
    await sup.stop();
  }
});

Deno.test("restart: a hung pooled host is terminated; all its actors are restarted", async () => {
  const pool = new WorkerPool({ size: 1 });
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor(
    ["sym:AAPL", "sym:MSFT", "sym:NVDA"].map((id) =>
      actorChild({ id, behaviour: ref("counter") }, pool)
    ),
    {
      heartbeat: { intervalMs: 20, timeoutMs: 400 },
      backoff: { initialMs: 0 },
      onEvent: events.push,
    },
  );
  await sup.start();
  try {
    assertEquals(pool.describe().map((h) => h.actors), [["sym:AAPL", "sym:MSFT", "sym:NVDA"]]);
    sup.handle<Counter>("sym:MSFT")!.send({ type: "hang" });
    for (const id of ["sym:AAPL", "sym:MSFT", "sym:NVDA"]) {
      await events.waitFor((e) => e.type === "started" && e.id === id && e.incarnation === 2, id);
      assertEquals(await sup.handle<Counter>(id)!.request({ type: "echo", value: id }), id);
    }
    const codes = events.items.flatMap((e) =>
      e.type === "exited" && e.exit.kind === "crash" ? [e.exit.error.code] : []
    );
    assertEquals(codes.sort(), ["HEARTBEAT_TIMEOUT", "HOST_TERMINATED", "HOST_TERMINATED"]);
    assertEquals(pool.describe().length, 1); // one fresh host replaced the hung one
  } finally {
    await sup.stop();
    pool.close();
  }
});
