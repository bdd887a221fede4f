/**
 * Market data links between actors. A publishing actor's host keeps, per topic, the sinks of
 * its subscribers and numbers each link's batches (`seq` 1, 2, …); a subscribing actor's host
 * feeds batches arriving on an attached MessagePort into the actor's data mailbox.
 *
 * @module
 */
import type { Publication } from "./behaviour.ts";
import type { Envelope } from "./cell.ts";
import { ActorError, type BatchDelivery, type DataMessage, transferablesOf } from "./protocol.ts";

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

/**
 * The data channels of one publishing host: one MessagePort per subscriber actor, shared by
 * every link from an actor of this host to that subscriber (`link()` reuses a channel it made
 * before). Batches of one slice for one subscriber then leave as one message, whatever the
 * number of publishers: 20 bots on 10 symbols each are woken 20 times per slice, not 200. A
 * channel closes with its last link.
 */
export class Channels {
  #channels = new Map<string, { writer: BatchSink; links: number }>();
  readonly #defer: ((flush: () => void) => void) | undefined;

  constructor(defer?: (flush: () => void) => void) {
    this.#defer = defer;
  }

  /**
   * A sink on channel `id` for one more link; `port` opens the channel (the first link).
   * @throws {ActorError} `CLOSED` when the channel is unknown and no port is given
   */
  sink(id: string, port: MessagePort | undefined): BatchSink {
    let channel = this.#channels.get(id);
    if (!channel) {
      if (!port) {
        throw new ActorError("CLOSED", `Cannot use data channel "${id}": it is not open here`);
      }
      channel = { writer: portSink(port, this.#defer), links: 0 };
      this.#channels.set(id, channel);
    } else port?.close();
    const open = channel;
    open.links++;
    let closed = false;
    return {
      deliver: (delivery, transfer) => open.writer.deliver(delivery, transfer),
      close: () => {
        if (closed) return;
        closed = true;
        if (--open.links > 0) return;
        open.writer.close();
        if (this.#channels.get(id) === open) this.#channels.delete(id);
      },
    };
  }

  /** Open channels (for tests). */
  get size(): number {
    return this.#channels.size;
  }
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
