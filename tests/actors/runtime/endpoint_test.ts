/**
 * Request/reply: over a MessageChannel with a hand-written peer, and over a real Worker host,
 * with timeouts driven by a test clock.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import { TestClock } from "../../../core/clock.ts";
import { Endpoint } from "../../../actors/runtime/endpoint.ts";
import { ActorError } from "../../../actors/runtime/protocol.ts";
import { spawnActor } from "../../../actors/runtime/placement.ts";
import { type CounterMsg, ref } from "./_behaviours.ts";
import { Log, within } from "./_helpers.ts";

type Out = { type: "ask"; id: number; n: number } | { type: "note"; text: string };
type In = { type: "reply"; re: number; ok: boolean; value?: unknown; error?: unknown } | {
  type: "note";
  text: string;
};

/** A peer on port2 that doubles `n`, fails on negatives, ignores 0 and echoes notes. */
function peer(port: MessagePort): MessagePort[] {
  const held: MessagePort[] = [port];
  port.onmessage = (event) => {
    const m = event.data as Out;
    if (m.type === "note") return port.postMessage(m);
    if (m.n === 0) return; // never answered
    if (m.n < 0) {
      return port.postMessage({
        type: "reply",
        re: m.id,
        ok: false,
        error: { name: "RangeError", message: `Cannot double ${m.n}`, code: "NEGATIVE" },
      });
    }
    port.postMessage({ type: "reply", re: m.id, ok: true, value: m.n * 2 });
  };
  return held;
}

Deno.test("endpoint: replies match requests by id; remote errors keep name and code", async () => {
  const { port1, port2 } = new MessageChannel();
  peer(port2);
  const notes = new Log<In>();
  const endpoint = new Endpoint<Out, In>(port1, { onMessage: notes.push });
  try {
    const [a, b] = await Promise.all([
      endpoint.request<number>({ type: "ask", n: 2 }),
      endpoint.request<number>({ type: "ask", n: 21 }),
    ]);
    assertEquals([a, b], [4, 42]);
    const error = await assertRejects(
      () => endpoint.request({ type: "ask", n: -1 }),
      ActorError,
      "Cannot double -1",
    );
    assertEquals([error.code, error.remoteName], ["NEGATIVE", "RangeError"]);
    endpoint.post({ type: "note", text: "hi" });
    assertEquals(await notes.waitFor((m) => m.type === "note", "note"), {
      type: "note",
      text: "hi",
    });
    assertEquals(endpoint.pending, 0);
  } finally {
    endpoint.close();
    port1.close();
    port2.close();
  }
});

Deno.test("endpoint: an unanswered request times out on the injected clock", async () => {
  const clock = new TestClock(0);
  const { port1, port2 } = new MessageChannel();
  peer(port2);
  const endpoint = new Endpoint<Out, In>(port1, { clock, timeoutMs: 1_000 });
  try {
    const silent = endpoint.request({ type: "ask", n: 0 });
    const longer = endpoint.request({ type: "ask", n: 0 }, { timeoutMs: 5_000 });
    clock.advance(999);
    assertEquals(endpoint.pending, 2);
    clock.advance(1);
    const error = await assertRejects(() => silent, ActorError, "no reply in 1000 ms");
    assertEquals(error.code, "TIMEOUT");
    assertEquals(endpoint.pending, 1);
    clock.advance(4_000);
    await assertRejects(() => longer, ActorError, "5000 ms");
    assertEquals(clock.pending, 0);
  } finally {
    endpoint.close();
    port1.close();
    port2.close();
  }
});

Deno.test("endpoint: in-flight limit waits for a slot or rejects with BACKPRESSURE", async () => {
  const { port1, port2 } = new MessageChannel();
  peer(port2);
  const clock = new TestClock(0);
  const strict = new Endpoint<Out, In>(port1, {
    clock,
    maxPending: 1,
    whenPendingFull: "reject",
  });
  try {
    const first = strict.request<number>({ type: "ask", n: 1 });
    const error = await assertRejects(() => strict.request({ type: "ask", n: 2 }), ActorError);
    assertEquals(error.code, "BACKPRESSURE");
    assertEquals(await first, 2);
  } finally {
    strict.close();
  }
  const patient = new Endpoint<Out, In>(port1, { clock, maxPending: 1 });
  try {
    const answers = await Promise.all([1, 2, 3].map((n) => patient.request({ type: "ask", n })));
    assertEquals(answers, [2, 4, 6]);
  } finally {
    patient.close();
    port1.close();
    port2.close();
  }
});

Deno.test("endpoint: close fails requests in flight with CLOSED", async () => {
  const { port1, port2 } = new MessageChannel();
  peer(port2);
  const endpoint = new Endpoint<Out, In>(port1, { timeoutMs: Infinity });
  const silent = endpoint.request({ type: "ask", n: 0 });
  endpoint.close();
  const error = await assertRejects(() => silent, ActorError);
  assertEquals(error.code, "CLOSED");
  await assertRejects(() => endpoint.request({ type: "ask", n: 1 }), ActorError, "closed");
  port1.close();
  port2.close();
});

Deno.test("endpoint: a bounded inbox keeps the newest notes", async () => {
  const { port1, port2 } = new MessageChannel();
  peer(port2);
  const endpoint = new Endpoint<Out, In>(port1, {
    inbox: { lanes: { notes: { capacity: 2, overflow: "drop-oldest" } }, laneOf: () => "notes" },
  });
  try {
    for (const text of ["a", "b", "c"]) endpoint.post({ type: "note", text });
    // A reply comes after the echoed notes on the same port.
    assertEquals(await endpoint.request({ type: "ask", n: 5 }), 10);
    assertEquals(endpoint.inbox!.drain(), [{ type: "note", text: "b" }, {
      type: "note",
      text: "c",
    }]);
  } finally {
    endpoint.close();
    port1.close();
    port2.close();
  }
});

Deno.test("worker: request/reply and errors across a real Worker", async () => {
  const effects = new Log<unknown>();
  const actor = await spawnActor<CounterMsg>(
    { id: "c1", behaviour: ref("counter"), args: { start: 10 } },
    "worker",
    { onEffects: (list) => list.forEach(effects.push) },
  );
  try {
    assertEquals(actor.placement, "worker");
    assertEquals(await actor.request({ type: "add", n: 5 }), 15);
    assertEquals(await actor.request({ type: "echo", value: { a: [1, 2] } }), { a: [1, 2] });
    actor.send({ type: "add", n: 1 });
    assertEquals(await actor.request({ type: "get" }), { total: 16, seqs: [] });
    // Effects of a transition arrive before the reply that follows it.
    assertEquals(effects.items, [
      { type: "started", total: 10 },
      { type: "total", total: 15 },
      { type: "total", total: 16 },
    ]);
    await actor.ping!();
  } finally {
    await actor.stop();
  }
  assertEquals(actor.exit, { kind: "normal", reason: "normal" });
  assertEquals(effects.items.at(-1), { type: "stopped", reason: "normal" });
  await assertRejects(() => actor.request({ type: "get" }), ActorError, "it stopped");
});

Deno.test("worker: a request the actor cannot answer yet times out on the test clock", async () => {
  const clock = new TestClock(0);
  const actor = await spawnActor<CounterMsg>(
    { id: "late", behaviour: ref("counter") },
    "worker",
    { clock, timeoutMs: 2_000, autoStart: false },
  );
  try {
    const early = actor.request({ type: "add", n: 1 });
    // The worker has the request queued (the actor is not started); only the clock can end it.
    await actor.ping!();
    clock.advance(2_000);
    const error = await assertRejects(() => early, ActorError, "no reply in 2000 ms");
    assertEquals(error.code, "TIMEOUT");
    await actor.start();
    // The late reply to the timed-out request is ignored; the actor did process it.
    assertEquals(await actor.request({ type: "add", n: 1 }), 2);
  } finally {
    await actor.stop();
  }
});

Deno.test("worker: unknown modules, exports and failing init are spawn errors", async () => {
  const missing = await assertRejects(
    () => spawnActor({ id: "x", behaviour: ref("nothing") }, "worker"),
    ActorError,
  );
  assertEquals(missing.code, "BEHAVIOUR_NOT_FOUND");
  const notOne = await assertRejects(
    () => spawnActor({ id: "x", behaviour: ref("notABehaviour") }, "worker"),
    ActorError,
    "not an actor behaviour",
  );
  assertEquals(notOne.code, "BEHAVIOUR_NOT_FOUND");
  await assertRejects(
    () => spawnActor({ id: "x", behaviour: ref("brokenInit") }, "worker"),
    ActorError,
    "No configuration",
  );
  const badUrl = await assertRejects(
    () =>
      spawnActor({
        id: "x",
        behaviour: { url: new URL("./no_such_module.ts", import.meta.url).href, export: "x" },
      }, "worker"),
    ActorError,
    "Cannot load behaviour module",
  );
  assert(badUrl.code === "BEHAVIOUR_NOT_FOUND");
});

Deno.test("worker: a throwing behaviour fails the request and the actor exits crashed", async () => {
  const actor = await spawnActor<CounterMsg>({ id: "t", behaviour: ref("counter") }, "worker");
  const error = await assertRejects(
    () => actor.request({ type: "throw", message: "Bad bar" }),
    ActorError,
    "Bad bar",
  );
  assertEquals([error.code, error.remoteName], ["ACTOR_CRASHED", "RangeError"]);
  const exit = await within(actor.exited, "exit");
  assert(exit.kind === "crash" && exit.error.message === "Bad bar");
  await assertRejects(() => actor.request({ type: "get" }), ActorError, "it crashed");
});
