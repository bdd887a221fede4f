/**
 * Bounded mailboxes: per-lane capacity and overflow policy, arrival order across lanes,
 * backpressure for rejecting lanes.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import { Mailbox } from "../../../actors/runtime/mailbox.ts";
import { ActorError } from "../../../actors/runtime/protocol.ts";

type Item = { kind: "cmd" | "data"; n: number };
const cmd = (n: number): Item => ({ kind: "cmd", n });
const data = (n: number): Item => ({ kind: "data", n });

function actorBox(commands = 2, dataCap = 3) {
  return new Mailbox<Item, "commands" | "data">({
    commands: { capacity: commands, overflow: "reject" },
    data: { capacity: dataCap, overflow: "drop-oldest" },
  }, (i) => i.kind === "cmd" ? "commands" : "data");
}

Deno.test("mailbox: a full data lane drops its oldest item and keeps arrival order", () => {
  const box = actorBox(4, 3);
  box.push(data(1));
  box.push(cmd(1));
  box.push(data(2));
  box.push(data(3));
  const offer = box.offer(data(4));
  assertEquals(offer, { status: "evicted", evicted: data(1) });
  box.push(cmd(2));
  box.push(data(5)); // evicts data 2
  assertEquals(box.drain(), [cmd(1), data(3), data(4), cmd(2), data(5)]);
  const stats = box.stats();
  assertEquals(stats.data, { size: 0, capacity: 3, accepted: 5, dropped: 2, rejected: 0 });
  assertEquals(stats.commands.accepted, 2);
});

Deno.test("mailbox: a full command lane rejects with MAILBOX_FULL while data still flows", () => {
  const box = actorBox(2, 3);
  box.push(cmd(1));
  box.push(cmd(2));
  assertEquals(box.offer(cmd(3)), { status: "refused", reason: "full" });
  const error = assertThrows(() => box.push(cmd(4)), ActorError, "full at 2");
  assertEquals(error.code, "MAILBOX_FULL");
  box.push(data(1));
  assertEquals(box.stats().commands.rejected, 2);
  assertEquals(box.poll(), cmd(1));
  box.push(cmd(5)); // room again
  assertEquals(box.drain(), [cmd(2), data(1), cmd(5)]);
});

Deno.test("mailbox: drop-newest discards the item offered to a full lane", () => {
  const box = Mailbox.channel<number>(2, "drop-newest");
  box.push(1);
  box.push(2);
  box.push(3);
  assertEquals(box.drain(), [1, 2]);
  assertEquals(box.stats().main.dropped, 1);
});

Deno.test("mailbox: put waits for room in a rejecting lane (backpressure)", async () => {
  const box = actorBox(1, 1);
  box.push(cmd(1));
  let done = false;
  const putting = box.put(cmd(2)).then(() => done = true);
  await Promise.resolve();
  assert(!done, "put must wait while the lane is full");
  assertEquals(box.size, 1);
  assertEquals(box.poll(), cmd(1));
  await putting;
  assertEquals(box.drain(), [cmd(2)]);
  // Dropping lanes never wait.
  box.push(data(1));
  await box.put(data(2));
  assertEquals(box.drain(), [data(2)]);
});

Deno.test("mailbox: take waits for an item; close fails waiting takers and senders", async () => {
  const box = actorBox(1, 1);
  const taking = box.take();
  box.push(cmd(7));
  assertEquals(await taking, cmd(7));

  box.push(cmd(8));
  const blocked = box.put(cmd(9));
  box.close();
  const error = await assertRejects(() => blocked, ActorError);
  assertEquals(error.code, "CLOSED");
  assertEquals(await box.take(), cmd(8)); // queued items can still be taken
  await assertRejects(() => box.take(), ActorError, "closed");
  assertThrows(() => box.push(cmd(10)), ActorError, "closed");
});

Deno.test("mailbox: async iteration ends when closed and empty", async () => {
  const box = Mailbox.channel<number>(10, "reject");
  for (const n of [1, 2, 3]) box.push(n);
  box.close();
  const seen: number[] = [];
  for await (const n of box) seen.push(n);
  assertEquals(seen, [1, 2, 3]);
});

Deno.test("mailbox: heavy eviction keeps order and bounded size", () => {
  const box = actorBox(10, 4);
  for (let i = 1; i <= 10_000; i++) {
    box.push(data(i));
    if (i % 1000 === 0) box.push(cmd(i));
  }
  assertEquals(box.size, 14);
  const items = box.drain();
  assertEquals(items.filter((i) => i.kind === "data").map((i) => i.n), [9997, 9998, 9999, 10000]);
  assertEquals(items.filter((i) => i.kind === "cmd").length, 10);
  assertEquals(items.at(-1), cmd(10_000));
  assertEquals(box.stats().data.dropped, 9996);
});

Deno.test("mailbox: capacities must be positive integers", () => {
  assertThrows(() => Mailbox.channel(0, "reject"), RangeError, "capacity 0");
});
