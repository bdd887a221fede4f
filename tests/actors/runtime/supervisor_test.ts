/**
 * The supervisor with inline actors and hand-made children on a test clock: ordered start and
 * reverse stop, restart policies, backoff, the restart window, escalation, heartbeats and
 * shutdown timeouts. Worker-backed children are in restart_test.ts.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { TestClock } from "../../../core/clock.ts";
import type { ActorHandle } from "../../../actors/runtime/actor.ts";
import { actorChild } from "../../../actors/runtime/placement.ts";
import {
  type ChildHandle,
  type ChildSpec,
  type Exit,
  type RestartPolicy,
  Supervisor,
  type SupervisorEvent,
} from "../../../actors/runtime/supervisor.ts";
import { counter, type CounterMsg } from "./_behaviours.ts";
import { Log } from "./_helpers.ts";

/** A child made by hand: exits when told, answers pings when told. */
class FakeChild implements ChildHandle {
  #resolve!: (exit: Exit) => void;
  readonly exited: Promise<Exit> = new Promise((resolve) => this.#resolve = resolve);
  answerPings = true;
  stopHangs = false;
  killed: string | null = null;

  constructor(readonly name: string, readonly journal: string[]) {}

  exit(exit: Exit): void {
    this.#resolve(exit);
  }

  stop(): Promise<void> {
    this.journal.push(`stop ${this.name}`);
    if (this.stopHangs) return new Promise(() => {});
    this.exit({ kind: "normal" });
    return Promise.resolve();
  }

  kill(error: { message: string; code?: string }): void {
    this.killed = error.code ?? error.message;
    this.journal.push(`kill ${this.name}`);
    this.exit({ kind: "crash", error: { name: "ActorError", ...error } });
  }

  ping(): Promise<void> {
    return this.answerPings ? Promise.resolve() : new Promise(() => {});
  }
}

function fakeSpec(
  id: string,
  journal: string[],
  made: FakeChild[],
  restart: RestartPolicy = "permanent",
): ChildSpec<FakeChild> {
  return {
    id,
    restart,
    shutdownMs: 1_000,
    start: () => {
      journal.push(`start ${id}`);
      const child = new FakeChild(id, journal);
      made.push(child);
      return Promise.resolve(child);
    },
  };
}

const crash = (message: string): Exit => ({ kind: "crash", error: { name: "Error", message } });

Deno.test("supervisor: children start in order and stop in reverse order", async () => {
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const sup = new Supervisor(["db", "engine", "bot"].map((id) => fakeSpec(id, journal, made)), {
    clock: new TestClock(0),
  });
  await sup.start();
  assertEquals(sup.children().map((c) => c.status), ["running", "running", "running"]);
  await sup.stop();
  assertEquals(journal, [
    "start db",
    "start engine",
    "start bot",
    "stop bot",
    "stop engine",
    "stop db",
  ]);
  assertEquals(sup.children().map((c) => c.status), ["stopped", "stopped", "stopped"]);
});

Deno.test("supervisor: inline actors start in order and run their stop hooks in reverse", async () => {
  const journal: string[] = [];
  const child = (id: string) =>
    actorChild<CounterMsg, { type: string }>({ id, behaviour: counter }, "inline", {
      onEffects: (effects) => effects.forEach((e) => journal.push(`${e.type} ${id}`)),
    });
  const sup = new Supervisor([child("a"), child("b"), child("c")], { clock: new TestClock(0) });
  await sup.start();
  await sup.handle<ActorHandle<CounterMsg>>("b")!.request({ type: "add", n: 1 });
  await sup.stop();
  assertEquals(journal, [
    "started a",
    "started b",
    "started c",
    "total b",
    "stopped c",
    "stopped b",
    "stopped a",
  ]);
});

Deno.test("supervisor: a failed start stops the children already started, in reverse", async () => {
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const broken: ChildSpec = {
    id: "broken",
    restart: "permanent",
    shutdownMs: 10,
    start: () => Promise.reject(new Error("No venue")),
  };
  const sup = new Supervisor([
    fakeSpec("a", journal, made),
    fakeSpec("b", journal, made),
    broken,
    fakeSpec("c", journal, made),
  ], { clock: new TestClock(0) });
  await assertRejects(() => sup.start(), Error, 'Cannot start child "broken": No venue');
  assertEquals(journal, ["start a", "start b", "stop b", "stop a"]);
  assertEquals(sup.info("broken")?.status, "error");
});

Deno.test("supervisor: one_for_one restarts only the crashed child, after a growing backoff", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([fakeSpec("a", journal, made), fakeSpec("b", journal, made)], {
    clock,
    maxRestarts: 5,
    withinMs: 60_000,
    backoff: { initialMs: 100, factor: 2, maxMs: 300 },
    onEvent: events.push,
  });
  await sup.start();
  const delays: number[] = [];
  for (let incarnation = 1; incarnation <= 4; incarnation++) {
    const current = made.filter((c) => c.name === "a").at(-1)!;
    current.exit(crash(`boom ${incarnation}`));
    const scheduled = await events.waitFor(
      (e) => e.type === "restart_scheduled" && e.attempt === incarnation,
      `restart ${incarnation}`,
    );
    assert(scheduled.type === "restart_scheduled");
    delays.push(scheduled.delayMs);
    assertEquals(sup.info("a")?.status, "restarting");
    clock.advance(scheduled.delayMs - 1);
    assertEquals(made.filter((c) => c.name === "a").length, incarnation); // not yet
    clock.advance(1);
    await events.waitFor(
      (e) => e.type === "started" && e.id === "a" && e.incarnation === incarnation + 1,
      `incarnation ${incarnation + 1}`,
    );
  }
  assertEquals(delays, [100, 200, 300, 300]);
  assertEquals(made.filter((c) => c.name === "b").length, 1);
  assertEquals(sup.info("a")?.error?.message, "boom 4");
  await sup.stop();
});

Deno.test("supervisor: more than R restarts in T escalates the child to error; siblings run on", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([fakeSpec("bot", journal, made), fakeSpec("other", journal, made)], {
    clock,
    maxRestarts: 2,
    withinMs: 10_000,
    backoff: { initialMs: 10, factor: 1 },
    onEvent: events.push,
  });
  await sup.start();
  const latest = () => made.filter((c) => c.name === "bot").at(-1)!;
  for (let i = 1; i <= 2; i++) {
    latest().exit(crash(`crash ${i}`));
    await events.waitFor((e) => e.type === "restart_scheduled" && e.attempt === i, `restart ${i}`);
    clock.advance(10);
    await events.waitFor((e) => e.type === "started" && e.incarnation === i + 1, "restarted");
  }
  latest().exit(crash("crash 3"));
  const escalated = await events.waitFor((e) => e.type === "escalated", "escalation");
  assert(escalated.type === "escalated");
  assertEquals(escalated.error.code, "ESCALATED");
  assertEquals(
    escalated.error.message,
    'Cannot restart child "bot": 2 restarts within 10000 ms, last exit: crash 3',
  );
  assertEquals(sup.info("bot")?.status, "error");
  assertEquals(sup.handle("bot"), undefined);
  clock.advance(60_000);
  assertEquals(made.filter((c) => c.name === "bot").length, 3); // never restarted again
  assertEquals(sup.info("other")?.status, "running");
  assertEquals(sup.info("other")?.incarnation, 1);
  await sup.stop();
  assertEquals(sup.info("bot")?.status, "error"); // stop keeps the verdict
});

Deno.test("supervisor: restarts older than the window are forgiven", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([fakeSpec("a", journal, made)], {
    clock,
    maxRestarts: 1,
    withinMs: 1_000,
    backoff: { initialMs: 50 },
    onEvent: events.push,
  });
  await sup.start();
  for (let i = 1; i <= 3; i++) {
    made.at(-1)!.exit(crash(`crash ${i}`));
    await events.waitFor(
      (e) => e.type === "exited" && e.incarnation === i,
      `exit ${i}`,
    );
    assertEquals(sup.info("a")?.status, "restarting");
    clock.advance(50);
    await events.waitFor((e) => e.type === "started" && e.incarnation === i + 1, "restarted");
    clock.advance(1_000); // the window moves past this restart
  }
  assertEquals(sup.info("a")?.status, "running");
  assertEquals(sup.info("a")?.recentRestarts, 0);
  await sup.stop();
});

Deno.test("supervisor: permanent, transient and temporary children", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([
    fakeSpec("perm", journal, made, "permanent"),
    fakeSpec("trans", journal, made, "transient"),
    fakeSpec("trans2", journal, made, "transient"),
    fakeSpec("temp", journal, made, "temporary"),
  ], { clock, backoff: { initialMs: 0 }, onEvent: events.push });
  await sup.start();
  const first = (name: string) => made.find((c) => c.name === name)!;
  first("perm").exit({ kind: "normal" });
  first("trans").exit({ kind: "normal" });
  first("trans2").exit(crash("oops"));
  first("temp").exit(crash("oops"));
  await events.waitFor((e) => e.type === "exited" && e.id === "temp", "temp exit");
  clock.advance(0);
  await events.waitFor(
    (e) => e.type === "started" && e.id === "perm" && e.incarnation === 2,
    "perm",
  );
  await events.waitFor(
    (e) => e.type === "started" && e.id === "trans2" && e.incarnation === 2,
    "t2",
  );
  assertEquals(sup.children().map((c) => [c.id, c.status, c.incarnation]), [
    ["perm", "running", 2],
    ["trans", "exited", 1],
    ["trans2", "running", 2],
    ["temp", "exited", 1],
  ]);
  await sup.stop();
});

Deno.test("supervisor: a child that misses its heartbeat is killed and restarted", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([fakeSpec("stuck", journal, made), fakeSpec("fine", journal, made)], {
    clock,
    heartbeat: { intervalMs: 100, timeoutMs: 300 },
    backoff: { initialMs: 10 },
    onEvent: events.push,
  });
  await sup.start();
  const stuck = made[0]!;
  stuck.answerPings = false;
  for (let t = 0; t < 3; t++) {
    clock.advance(100);
    await Promise.resolve(); // let answered pings settle
  }
  assertEquals(stuck.killed, null); // 200 ms since the unanswered ping
  clock.advance(100);
  assertEquals(stuck.killed, "HEARTBEAT_TIMEOUT");
  await events.waitFor((e) => e.type === "heartbeat_timeout" && e.id === "stuck", "timeout");
  const exited = await events.waitFor((e) => e.type === "exited" && e.id === "stuck", "exit");
  assert(exited.type === "exited" && exited.exit.kind === "crash");
  assertEquals(exited.exit.error.code, "HEARTBEAT_TIMEOUT");
  clock.advance(10);
  await events.waitFor(
    (e) => e.type === "started" && e.id === "stuck" && e.incarnation === 2,
    "restart",
  );
  assertEquals(made[1]!.killed, null);
  assertEquals(sup.info("fine")?.incarnation, 1);
  await sup.stop();
  assertEquals(clock.pending, 0);
});

Deno.test("supervisor: a child that does not stop within shutdownMs is killed", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const sup = new Supervisor([fakeSpec("a", journal, made), fakeSpec("slow", journal, made)], {
    clock,
  });
  await sup.start();
  made[1]!.stopHangs = true;
  const stopping = sup.stop();
  await Promise.resolve();
  assertEquals(journal.at(-1), "stop slow");
  clock.advance(1_000);
  await stopping;
  assertEquals(journal.slice(-3), ["stop slow", "kill slow", "stop a"]);
  assertEquals(made[1]!.killed, "TIMEOUT");
});

Deno.test("supervisor: children added at run time start, restart and stop like the others", async () => {
  const clock = new TestClock(0);
  const journal: string[] = [];
  const made: FakeChild[] = [];
  const events = new Log<SupervisorEvent>();
  const sup = new Supervisor([fakeSpec("a", journal, made)], {
    clock,
    backoff: { initialMs: 5 },
    onEvent: events.push,
  });
  await sup.start();
  const bot = await sup.startChild(fakeSpec("bot-1", journal, made));
  await assertRejects(() => sup.startChild(fakeSpec("bot-1", journal, made)), RangeError, "taken");
  bot.exit(crash("x"));
  await events.waitFor((e) => e.type === "restart_scheduled" && e.id === "bot-1", "restart");
  clock.advance(5);
  await events.waitFor((e) => e.type === "started" && e.id === "bot-1" && e.incarnation === 2, "2");
  await sup.stopChild("bot-1");
  assertEquals(sup.info("bot-1"), undefined);
  await sup.stop();
  assertEquals(journal, ["start a", "start bot-1", "start bot-1", "stop bot-1", "stop a"]);
});
