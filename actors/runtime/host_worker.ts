/**
 * The generic Worker entry of the actor runtime: a host for any number of actors whose
 * behaviours it imports by URL (given in each `init`). A dedicated bot Worker hosts one actor,
 * a pooled host many. Messages follow {@link ToHost} and {@link FromHost}.
 *
 * Incoming messages only enqueue into the actors' mailboxes; a scheduler drains the mailboxes
 * in slices of {@link SLICE} messages per actor, yielding to the event loop in between, so a
 * slow actor lets newer batches displace stale ones instead of queueing without bound, and
 * pings are answered between slices. Effects of a slice leave in one message, always before
 * any reply that follows them; so do the batches a slice publishes on each link (one message
 * per link and slice), so a subscriber's thread is woken once per slice, not once per batch.
 *
 * @module
 */
import { type AnyBehaviour, loadBehaviour } from "./behaviour.ts";
import { ActorCell, type ReplyResult } from "./cell.ts";
import type { PortLike } from "./endpoint.ts";
import { attachPort, Channels, Outlets } from "./outlets.ts";
import {
  type FromHost,
  runtimeError,
  type SerializedError,
  serializeError,
  type ToHost,
} from "./protocol.ts";

/** Messages one actor may process before the host yields to the event loop. */
const SLICE = 64;

interface Hosted {
  cell: ActorCell<unknown, unknown, unknown>;
  outlets: Outlets;
  inputs: (() => void)[];
}

const scope = self as unknown as PortLike;
const actors = new Map<string, Hosted>();
const ready = new Set<Hosted>();
let effects: { actorId: string; effects: unknown[] }[] = [];
const overflow = new Map<string, { commands: number; data: number }>();
/** Data ports with batches queued in this slice (see {@link portSink}). */
const dataFlushes: (() => void)[] = [];

const tick = new MessageChannel();
let scheduled = false;
tick.port1.onmessage = run;

function post(message: FromHost, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  tick.port2.postMessage(null);
}

function run(): void {
  scheduled = false;
  for (const hosted of [...ready]) {
    if (!hosted.cell.drain(SLICE)) ready.delete(hosted);
  }
  flush();
  if (ready.size > 0) schedule();
}

/** Queues a data port's flush for the end of the slice. */
function deferData(flushPort: () => void): void {
  dataFlushes.push(flushPort);
}

/** This host's data channels, one per subscriber actor. */
const channels = new Channels(deferData);

function flush(): void {
  for (const flushPort of dataFlushes.splice(0)) flushPort();
  if (effects.length > 0) {
    post({ type: "effects", entries: effects });
    effects = [];
  }
  for (const [actorId, counts] of overflow) {
    if (counts.commands > 0) {
      post({ type: "overflow", actorId, lane: "commands", count: counts.commands });
    }
    if (counts.data > 0) post({ type: "overflow", actorId, lane: "data", count: counts.data });
  }
  overflow.clear();
}

function reply(re: number, result: ReplyResult): void {
  flush();
  post(
    result.ok
      ? { type: "reply", re, ok: true, value: result.value }
      : { type: "reply", re, ok: false, error: result.error },
  );
}

function remove(actorId: string): void {
  const hosted = actors.get(actorId);
  if (!hosted) return;
  actors.delete(actorId);
  ready.delete(hosted);
  hosted.outlets.close();
  for (const detach of hosted.inputs) detach();
}

function notFound(actorId: string): SerializedError {
  return runtimeError("ACTOR_NOT_FOUND", `Cannot find actor "${actorId}" in this host`);
}

async function init(message: Extract<ToHost, { type: "init" }>): Promise<void> {
  const { id, actorId } = message;
  if (actors.has(actorId)) {
    reply(id, {
      ok: false,
      error: runtimeError("ACTOR_EXISTS", `Cannot init actor "${actorId}": it already runs here`),
    });
    return;
  }
  let behaviour: AnyBehaviour;
  try {
    behaviour = await loadBehaviour(message.behaviour);
  } catch (e) {
    reply(id, { ok: false, error: serializeError(e) });
    return;
  }
  const outlets = new Outlets();
  let hosted: Hosted;
  try {
    const spec = {
      id: actorId,
      behaviour,
      args: message.args,
      ...(message.mailbox ? { mailbox: message.mailbox } : {}),
    };
    const cell = new ActorCell<unknown, unknown, unknown>(spec, {
      emit: (list) => effects.push({ actorId, effects: [...list] }),
      publish: (publication) => outlets.publish(publication),
      crashed: (error) => {
        flush();
        post({ type: "crash", actorId, error });
        remove(actorId);
      },
      overflow: (lane, count) => {
        let counts = overflow.get(actorId);
        if (!counts) overflow.set(actorId, counts = { commands: 0, data: 0 });
        counts[lane] += count;
        schedule();
      },
      schedule: () => {
        ready.add(hosted);
        schedule();
      },
    });
    hosted = { cell, outlets, inputs: [] };
  } catch (e) {
    reply(id, { ok: false, error: serializeError(e, "ACTOR_CRASHED") });
    return;
  }
  actors.set(actorId, hosted);
  reply(id, { ok: true, value: null });
}

function deliverBatch(message: Extract<ToHost, { type: "batch" }>): void {
  const { actorId, ...delivery } = message;
  actors.get(actorId)?.cell.deliver({ kind: "batch", delivery });
}

function handle(message: ToHost): void {
  switch (message.type) {
    case "ping":
      post({ type: "pong", re: message.id });
      return;
    case "init":
      void init(message);
      return;
    case "start": {
      const hosted = actors.get(message.actorId);
      if (!hosted) return reply(message.id, { ok: false, error: notFound(message.actorId) });
      hosted.cell.start();
      return reply(message.id, { ok: true, value: null });
    }
    case "stop": {
      const hosted = actors.get(message.actorId);
      if (hosted) {
        hosted.cell.stop(message.reason);
        remove(message.actorId);
      }
      return reply(message.id, { ok: true, value: null });
    }
    case "request": {
      const hosted = actors.get(message.actorId);
      if (!hosted) return reply(message.id, { ok: false, error: notFound(message.actorId) });
      const re = message.id;
      hosted.cell.deliver({
        kind: "request",
        message: message.payload,
        reply: (result) => reply(re, result),
      });
      return;
    }
    case "event":
      actors.get(message.actorId)?.cell.deliver({ kind: "event", message: message.payload });
      return;
    case "batch":
      deliverBatch(message);
      return;
    case "batches":
      for (const batch of message.batches) deliverBatch(batch);
      return;
    case "subscribe": {
      const hosted = actors.get(message.actorId);
      if (!hosted) {
        message.port?.close();
        return reply(message.id, { ok: false, error: notFound(message.actorId) });
      }
      let sink;
      try {
        sink = channels.sink(message.channel, message.port);
      } catch (e) {
        return reply(message.id, { ok: false, error: serializeError(e, "CLOSED") });
      }
      hosted.outlets.add(message.topic, sink, message.linkId);
      return reply(message.id, { ok: true, value: null });
    }
    case "unsubscribe": {
      const removed = actors.get(message.actorId)?.outlets.remove(message.topic, message.linkId);
      return reply(message.id, { ok: true, value: removed === true });
    }
    case "attach": {
      const hosted = actors.get(message.actorId);
      if (!hosted) {
        message.port.close();
        return reply(message.id, { ok: false, error: notFound(message.actorId) });
      }
      hosted.inputs.push(attachPort(message.port, hosted.cell));
      return reply(message.id, { ok: true, value: null });
    }
  }
}

scope.addEventListener("message", (event: MessageEvent) => handle(event.data as ToHost));

// An error outside any transition (a behaviour that broke the rules with a timer, a bug here)
// leaves the host in an unknown state: report it and let the parent terminate the Worker.
globalThis.addEventListener("error", (event) => {
  event.preventDefault();
  post({ type: "fatal", error: serializeError(event.error ?? event.message) });
});
globalThis.addEventListener("unhandledrejection", (event) => {
  event.preventDefault();
  post({ type: "fatal", error: serializeError(event.reason) });
});
