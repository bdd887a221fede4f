/**
 * Market data links between actors. A publishing actor's host keeps, per topic, the sinks of
 * its subscribers and numbers each link's batches (`seq` 1, 2, …); a subscribing actor's host
 * feeds batches arriving on an attached MessagePort into the actor's data mailbox.
 *
 * @module
 */
import type { Publication } from "./behaviour.ts";
import type { Envelope } from "./cell.ts";
import { type BatchDelivery, type DataMessage, transferablesOf } from "./protocol.ts";

/** One subscriber of a topic. */
export interface BatchSink {
  deliver(delivery: BatchDelivery, transfer: boolean): void;
  close(): void;
}

/**
 * A sink that posts batches on a MessagePort (the other end lives in another actor's host).
 * With `defer`, deliveries are queued and posted together, as one message, when the host calls
 * the flush it was given (once per scheduler slice): a subscriber's thread is woken once for
 * all the batches of a slice, not once per batch. Without it each batch is posted at once.
 */
export function portSink(
  port: MessagePort,
  defer?: (flush: () => void) => void,
): BatchSink {
  let queue: BatchDelivery[] = [];
  let transfers: ArrayBuffer[] = [];
  const flush = () => {
    if (queue.length === 0) return;
    const message: DataMessage = queue.length === 1
      ? queue[0]!
      : { type: "batches", deliveries: queue };
    const transfer = [...new Set(transfers)];
    queue = [];
    transfers = [];
    port.postMessage(message, transfer);
  };
  return {
    deliver(delivery, transfer) {
      if (!defer) {
        port.postMessage(delivery, transfer ? transferablesOf(delivery.batch) : []);
        return;
      }
      queue.push(delivery);
      if (transfer) transfers.push(...transferablesOf(delivery.batch));
      if (queue.length === 1) defer(flush);
    },
    close: () => {
      flush();
      port.close();
    },
  };
}

/** A sink that hands batches straight to a cell in the same thread. */
export function directSink(cell: { deliver(envelope: Envelope<unknown>): void }): BatchSink {
  return { deliver: (delivery) => cell.deliver({ kind: "batch", delivery }), close: () => {} };
}

/**
 * Feeds batches arriving on `port` into `cell`; answers a function that detaches and closes
 * the port.
 */
export function attachPort(
  port: MessagePort,
  cell: { deliver(envelope: Envelope<unknown>): void },
): () => void {
  port.onmessage = (event: MessageEvent) => {
    const message = event.data as DataMessage;
    if (message?.type === "batch") cell.deliver({ kind: "batch", delivery: message });
    else if (message?.type === "batches") {
      for (const delivery of message.deliveries) cell.deliver({ kind: "batch", delivery });
    }
  };
  return () => {
    port.onmessage = null;
    port.close();
  };
}

/** The subscribers of one publishing actor, by topic. */
export class Outlets {
  #topics = new Map<string, { sink: BatchSink; seq: number; linkId: string | null }[]>();

  /** Adds a subscriber to `topic`; `linkId` names it for {@link remove}. */
  add(topic: string, sink: BatchSink, linkId: string | null = null): void {
    let links = this.#topics.get(topic);
    if (!links) this.#topics.set(topic, links = []);
    links.push({ sink, seq: 0, linkId });
  }

  /** Closes and removes the subscriber of `topic` added as `linkId`; answers whether it was. */
  remove(topic: string, linkId: string): boolean {
    const links = this.#topics.get(topic);
    const i = links?.findIndex((l) => l.linkId === linkId) ?? -1;
    if (!links || i < 0) return false;
    links[i]!.sink.close();
    links.splice(i, 1);
    if (links.length === 0) this.#topics.delete(topic);
    return true;
  }

  /** Subscribers per topic (for status and tests). */
  counts(): Record<string, number> {
    return Object.fromEntries([...this.#topics].map(([topic, links]) => [topic, links.length]));
  }

  /** Sends a batch to every subscriber of its topic; only the last may get it by transfer. */
  publish(publication: Publication): void {
    const links = this.#topics.get(publication.topic);
    if (!links) return;
    links.forEach((link, i) => {
      link.sink.deliver({
        type: "batch",
        topic: publication.topic,
        seq: ++link.seq,
        batch: publication.batch,
      }, publication.transfer === true && i === links.length - 1);
    });
  }

  /** Closes every sink. */
  close(): void {
    for (const links of this.#topics.values()) for (const { sink } of links) sink.close();
    this.#topics.clear();
  }
}
