/**
 * Placement: the same behaviour gives the same effects inline, in a dedicated Worker and in a
 * pooled host; a pooled host runs several actors; mailbox overflow inside a Worker; market data
 * batches between actors over MessageChannel ports.
 */
import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import type { ActorHandle } from "../../../actors/runtime/actor.ts";
import { link, type Placement, spawnActor } from "../../../actors/runtime/placement.ts";
import { WorkerPool } from "../../../actors/runtime/pool.ts";
import { ActorError, type Batch } from "../../../actors/runtime/protocol.ts";
import { spawnInline } from "../../../actors/runtime/inline.ts";
import {
  type Bar,
  type CounterMsg,
  crossover,
  type CrossoverMsg,
  type Intent,
  ref,
  type SinkMsg,
} from "./_behaviours.ts";
import { Log, within } from "./_helpers.ts";

/** A deterministic zig-zag of bars, as rows and as columns. */
function bars(from: number, n: number): Bar[] {
  return Array.from({ length: n }, (_, i) => {
    const k = from + i;
    return { ts: 1_700_000_000_000 + k * 60_000, close: 100 + 10 * Math.sin(k / 5) + (k % 3) };
  });
}

function columns(rows: Bar[]): Batch {
  return {
    kind: "columns",
    length: rows.length,
    columns: {
      ts: Float64Array.from(rows.map((r) => r.ts)),
      close: Float64Array.from(rows.map((r) => r.close)),
    },
  };
}

/** Feeds one fixed script of events and batches; answers every effect, in order. */
async function runScript(placement: Placement, behaviourOf: "ref" | "object"): Promise<Intent[]> {
  const intents: Intent[] = [];
  const actor = await spawnActor<CrossoverMsg, Intent>(
    { id: "strategy", behaviour: behaviourOf === "ref" ? ref("crossover") : crossover },
    placement,
    { onEffects: (effects) => intents.push(...effects) },
  );
  try {
    actor.sendBatch("bars", { kind: "rows", rows: bars(0, 40) });
    actor.send({ type: "params", fast: 2, slow: 5 });
    actor.sendBatch("bars", columns(bars(40, 40)), { transfer: true });
    for (let i = 80; i < 200; i += 7) actor.sendBatch("bars", { kind: "rows", rows: bars(i, 7) });
    // Replies follow the effects of every earlier message.
    const position = await actor.request({ type: "position" });
    intents.push({ side: position === "long" ? "buy" : "sell", ts: -1, price: -1 });
  } finally {
    await actor.stop();
  }
  return intents;
}

Deno.test("placement: inline, worker and pool give identical effect sequences", async () => {
  const pool = new WorkerPool({ size: 1 });
  try {
    const inline = await runScript("inline", "object");
    const inlineByRef = await runScript("inline", "ref");
    const worker = await runScript("worker", "ref");
    const pooled = await runScript(pool, "ref");
    assert(inline.length > 10, `expected many intents, got ${inline.length}`);
    assertEquals(inlineByRef, inline);
    assertEquals(worker, inline);
    assertEquals(pooled, inline);
  } finally {
    pool.close();
  }
});

Deno.test("placement: a Worker needs a module reference for its behaviour", async () => {
  await assertRejects(
    () => spawnActor({ id: "x", behaviour: crossover }, "worker"),
    TypeError,
    "give its behaviour as {url, export}",
  );
});

Deno.test("placement: a pooled host runs several actors; one crashing leaves the rest", async () => {
  const pool = new WorkerPool({ size: 2 });
  const actors: ActorHandle<CounterMsg>[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      actors.push(
        await pool.spawn<CounterMsg>({
          id: `sym:${i}`,
          behaviour: ref("counter"),
          args: { start: i * 10 },
        }),
      );
    }
    const hosts = pool.describe();
    assertEquals(hosts.length, 2);
    assertEquals(hosts.map((h) => h.actors.length), [3, 3]);
    assertEquals(actors.map((a) => a.placement), Array(6).fill("pool"));
    const totals = await Promise.all(actors.map((a) => a.request({ type: "add", n: 1 })));
    assertEquals(totals, [1, 11, 21, 31, 41, 51]);

    await assertRejects(
      () => actors[2]!.request({ type: "throw", message: "Bad tick" }),
      ActorError,
    );
    const exit = await within(actors[2]!.exited, "crash");
    assert(exit.kind === "crash" && exit.error.message === "Bad tick");
    // Its neighbours in the same Worker carry on.
    const after = await Promise.all(
      actors.filter((_, i) => i !== 2).map((a) => a.request({ type: "add", n: 1 })),
    );
    assertEquals(after, [2, 12, 32, 42, 52]);
    assertEquals(pool.describe().map((h) => h.actors.length).sort(), [2, 3]);
    // The next actor goes to the less loaded host.
    const late = await pool.spawn<CounterMsg>({ id: "sym:late", behaviour: ref("counter") });
    assertEquals(pool.describe().map((h) => h.actors.length), [3, 3]);
    assertEquals(await late.request({ type: "add", n: 7 }), 7);
  } finally {
    pool.close();
  }
  const exits = await Promise.all(actors.map((a) => a.exited));
  assertEquals(exits.filter((e) => e.kind === "normal").length, 5);
});

Deno.test("placement: an uncaught error kills only its Worker; every actor in it exits", async () => {
  const pool = new WorkerPool({ size: 1 });
  try {
    const bomb = await pool.spawn<{ type: "arm" }>({ id: "bomb", behaviour: ref("bomb") });
    const neighbour = await pool.spawn<CounterMsg>({ id: "n", behaviour: ref("counter") });
    const elsewhere = await spawnActor<CounterMsg>(
      { id: "e", behaviour: ref("counter") },
      "worker",
    );
    bomb.send({ type: "arm" });
    for (const actor of [bomb, neighbour]) {
      const exit = await within(actor.exited, `exit of ${actor.id}`);
      assert(exit.kind === "crash");
      assertEquals(exit.error.code, "HOST_TERMINATED");
      assert(exit.error.message.includes("Uncaught in a timer"), exit.error.message);
    }
    assertEquals(await elsewhere.request({ type: "add", n: 1 }), 1);
    await elsewhere.stop();
    assertEquals(pool.describe(), []);
  } finally {
    pool.close();
  }
});

Deno.test("placement: a full mailbox in a Worker drops the oldest batches and refuses commands", async () => {
  const overflow = new Log<[string, number]>();
  const actor = await spawnActor<CounterMsg>(
    { id: "slow", behaviour: ref("counter"), mailbox: { commands: 2, data: 3 } },
    "worker",
    { autoStart: false, onOverflow: (lane, count) => overflow.push([lane, count]) },
  );
  try {
    for (let i = 0; i < 8; i++) actor.sendBatch("bars", { kind: "rows", rows: [{ i }] });
    const first = actor.request({ type: "add", n: 1 });
    const second = actor.request({ type: "add", n: 2 });
    const error = await assertRejects(() => actor.request({ type: "add", n: 3 }), ActorError);
    assertEquals(error.code, "MAILBOX_FULL");
    actor.send({ type: "add", n: 100 }); // refused too: reported, not thrown
    await overflow.waitFor(([lane]) => lane === "commands", "commands overflow");
    const dropped = overflow.items.filter(([lane]) => lane === "data")
      .reduce((a, [, n]) => a + n, 0);
    assertEquals(dropped, 5);

    await actor.start();
    assertEquals([await first, await second], [1, 3]);
    // Only the freshest three batches were kept; the seq gap shows what was lost.
    assertEquals(await actor.request({ type: "get" }), { total: 3, seqs: [6, 7, 8] });
  } finally {
    await actor.stop();
  }
});

Deno.test("placement: batches sent in one turn leave together, in order with events and requests", async () => {
  const pool = new WorkerPool({ size: 1 });
  const overflow = new Log<[string, string, number]>();
  try {
    const actors: ActorHandle<CounterMsg>[] = [];
    for (let i = 0; i < 5; i++) {
      actors.push(
        await spawnActor<CounterMsg>({ id: `a${i}`, behaviour: ref("counter") }, pool, {
          onOverflow: (lane, count) => overflow.push([`a${i}`, lane, count]),
        }),
      );
    }
    for (const actor of actors) {
      actor.sendBatch("bars", { kind: "rows", rows: [1] });
      actor.sendBatch("bars", columns(bars(0, 3)), { transfer: true });
    }
    for (const actor of actors) actor.send({ type: "add", n: 1 });
    // A batch that cannot be cloned is dropped and reported; the others still arrive.
    actors[2]!.sendBatch("bars", { kind: "rows", rows: [{ f: () => 1 }] });
    for (const actor of actors) actor.sendBatch("bars", { kind: "rows", rows: [4] });
    const got = await Promise.all(actors.map((a) => a.request({ type: "get" })));
    assertEquals(got, [
      { total: 1, seqs: [1, 2, 3] },
      { total: 1, seqs: [1, 2, 3] },
      { total: 1, seqs: [1, 2, 4] },
      { total: 1, seqs: [1, 2, 3] },
      { total: 1, seqs: [1, 2, 3] },
    ]);
    assertEquals(overflow.items, [["a2", "data", 1]]);
  } finally {
    pool.close();
  }
});

Deno.test("placement: inline delivery is synchronous and needs no mailbox room", async () => {
  const actor = await spawnInline<CounterMsg>(
    { id: "i", behaviour: ref("counter"), mailbox: { commands: 1, data: 1 } },
  );
  for (let i = 0; i < 100; i++) actor.send({ type: "add", n: 1 });
  assertEquals((actor.state as { total: number }).total, 100);
  assertEquals(actor.ping, undefined);
  await actor.stop();
});

/** Publishes `n` column batches of prices through `relay` to `sink`; answers what arrived. */
async function pipe(
  relayAt: Placement,
  sinkAt: Placement,
  n: number,
): Promise<{ seen: { topic: string; seq: number; sum: number }[]; expected: number[] }> {
  const arrived = new Log<{ topic: string; seq: number; sum: number }>();
  const relay = await spawnActor<unknown>({ id: "sym:AAPL", behaviour: ref("relay") }, relayAt);
  const sink = await spawnActor<SinkMsg, { topic: string; seq: number; sum: number }>(
    { id: "bot:1", behaviour: ref("sink") },
    sinkAt,
    { onEffects: (effects) => effects.forEach(arrived.push) },
  );
  try {
    await link(relay, sink, { topic: "ticks" });
    const expected: number[] = [];
    for (let b = 0; b < n; b++) {
      const price = Float64Array.from({ length: 500 }, (_, i) => 100 + b + i / 1000);
      expected.push(price.reduce((a, x) => a + x, 0));
      relay.sendBatch("quotes", { kind: "columns", length: price.length, columns: { price } }, {
        transfer: true,
      });
    }
    await arrived.count(n, "batches at the sink");
    assertEquals(await relay.request({ type: "count" }), n);
    assertEquals(await sink.request({ type: "seen" }), arrived.items);
    return { seen: arrived.items, expected };
  } finally {
    await sink.stop();
    await relay.stop();
  }
}

Deno.test("links: batches flow between two Workers over a MessageChannel, in order", async () => {
  const pool = new WorkerPool({ size: 1 });
  try {
    const { seen, expected } = await pipe(pool, "worker", 50);
    assertEquals(seen.map((s) => s.seq), expected.map((_, i) => i + 1));
    assertEquals(seen.map((s) => s.sum), expected);
    assert(seen.every((s) => s.topic === "ticks"));
  } finally {
    pool.close();
  }
});

Deno.test("links: inline ↔ worker and inline ↔ inline links deliver the same batches", async () => {
  const a = await pipe("inline", "worker", 10);
  const b = await pipe("worker", "inline", 10);
  const c = await pipe("inline", "inline", 10);
  assertEquals(a.seen, b.seen);
  assertEquals(b.seen, c.seen);
  assertEquals(c.seen.map((s) => s.sum), c.expected);
});

Deno.test("links: a closed link stops delivery and the publisher forgets it", async () => {
  const pool = new WorkerPool({ size: 1 });
  try {
    for (const [relayAt, sinkAt] of [["inline", "inline"], [pool, "worker"]] as const) {
      const arrived = new Log<{ topic: string; seq: number; sum: number }>();
      const relay = await spawnActor<unknown>({ id: "sym:MSFT", behaviour: ref("relay") }, relayAt);
      const sink = await spawnActor<SinkMsg, { topic: string; seq: number; sum: number }>(
        { id: "bot:2", behaviour: ref("sink") },
        sinkAt,
        { onEffects: (effects) => effects.forEach(arrived.push) },
      );
      const batch = () => ({
        kind: "columns" as const,
        length: 1,
        columns: { price: Float64Array.of(1) },
      });
      try {
        const first = await link(relay, sink, { topic: "ticks" });
        relay.sendBatch("quotes", batch());
        await arrived.count(1, "the batch before close");
        await first.close();
        await first.close(); // twice is fine
        for (let i = 0; i < 5; i++) relay.sendBatch("quotes", batch());
        assertEquals(await relay.request({ type: "count" }), 6);
        assertEquals((await sink.request<unknown[]>({ type: "seen" })).length, 1);
      } finally {
        await sink.stop();
        await relay.stop();
      }
    }
  } finally {
    pool.close();
  }
});

Deno.test("links: links from one host to one subscriber share a channel that closes with the last", async () => {
  const pool = new WorkerPool({ size: 1 });
  try {
    const arrived = new Log<{ topic: string; seq: number; sum: number }>();
    const a = await spawnActor<unknown>({ id: "sym:A", behaviour: ref("relay") }, pool);
    const b = await spawnActor<unknown>({ id: "sym:B", behaviour: ref("relay") }, pool);
    const sinkActor = await spawnActor<SinkMsg, { topic: string; seq: number; sum: number }>(
      { id: "bot:3", behaviour: ref("sink") },
      "worker",
      { onEffects: (effects) => effects.forEach(arrived.push) },
    );
    const batch = (price: number) => ({
      kind: "columns" as const,
      length: 1,
      columns: { price: Float64Array.of(price) },
    });
    try {
      const la = await link(a, sinkActor, { topic: "ticks" });
      const lb = await link(b, sinkActor, { topic: "ticks" });
      a.sendBatch("quotes", batch(1));
      b.sendBatch("quotes", batch(2));
      await arrived.count(2, "a batch from each publisher");
      await la.close();
      a.sendBatch("quotes", batch(10));
      b.sendBatch("quotes", batch(20));
      await arrived.count(3, "b's second batch");
      assertEquals(await a.request({ type: "count" }), 2);
      assertEquals(
        (await sinkActor.request<{ sum: number }[]>({ type: "seen" })).map((s) => s.sum),
        [
          1,
          2,
          20,
        ],
      );
      // With the last link gone the channel is closed; a new link opens a new one.
      await lb.close();
      const again = await link(a, sinkActor, { topic: "ticks" });
      a.sendBatch("quotes", batch(100));
      await arrived.count(4, "a's batch on a new channel");
      await again.close();
    } finally {
      await sinkActor.stop();
      await a.stop();
      await b.stop();
    }
  } finally {
    pool.close();
  }
});
