/**
 * Data port sinks: batches published in one slice leave as one message per link, in order,
 * with their buffers transferred once; closing a sink sends what it still holds.
 */
import { assertEquals } from "../../_assert.ts";
import { attachPort, portSink } from "../../../actors/runtime/outlets.ts";
import type { BatchDelivery, DataMessage } from "../../../actors/runtime/protocol.ts";
import type { Envelope } from "../../../actors/runtime/cell.ts";
import { within } from "./_helpers.ts";

function delivery(seq: number, column: Float64Array): BatchDelivery {
  return {
    type: "batch",
    topic: "ticks",
    seq,
    batch: { kind: "columns", length: column.length, columns: { p: column } },
  };
}

function received(port: MessagePort, n: number): Promise<DataMessage[]> {
  const out: DataMessage[] = [];
  return within(
    new Promise((resolve) => {
      port.onmessage = (event) => {
        out.push(event.data);
        if (out.length === n) resolve(out);
      };
    }),
    `${n} messages`,
  );
}

Deno.test("outlets: a deferred port sink posts a slice's batches as one message, in order", async () => {
  const channel = new MessageChannel();
  const flushes: (() => void)[] = [];
  const sink = portSink(channel.port1, (flush) => flushes.push(flush));
  const shared = new Float64Array([1, 2, 3]);
  try {
    const messages = received(channel.port2, 2);
    sink.deliver(delivery(1, shared), true);
    sink.deliver(delivery(2, new Float64Array([4])), true);
    sink.deliver(delivery(3, shared), true); // the same buffer again: transferred once
    assertEquals(flushes.length, 1); // one flush per slice, however many batches
    flushes.splice(0).forEach((flush) => flush());
    assertEquals(shared.length, 0); // transferred
    sink.deliver(delivery(4, new Float64Array([5])), false);
    flushes.splice(0).forEach((flush) => flush());
    const [first, second] = await messages;
    assertEquals(first!.type, "batches");
    const seqs = first!.type === "batches" ? first!.deliveries.map((d) => d.seq) : [];
    assertEquals(seqs, [1, 2, 3]);
    assertEquals(second!.type === "batch" ? second!.seq : null, 4);
  } finally {
    sink.close();
    channel.port2.close();
  }
});

Deno.test("outlets: closing a sink sends what it holds; attachPort unpacks several batches", async () => {
  const channel = new MessageChannel();
  const sink = portSink(channel.port1, () => {});
  const seen: number[] = [];
  let done!: () => void;
  const all = new Promise<void>((resolve) => done = resolve);
  const detach = attachPort(channel.port2, {
    deliver(envelope: Envelope<unknown>) {
      if (envelope.kind === "batch") seen.push(envelope.delivery.seq);
      if (seen.length === 3) done();
    },
  });
  try {
    for (let seq = 1; seq <= 3; seq++) sink.deliver(delivery(seq, new Float64Array([seq])), false);
    sink.close();
    await within(all, "three batches");
    assertEquals(seen, [1, 2, 3]);
  } finally {
    detach();
  }
});
