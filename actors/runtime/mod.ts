/**
 * The actor runtime: pure behaviours, bounded mailboxes, request/reply endpoints, Worker hosts
 * (dedicated and pooled), inline placement, data links, and a one_for_one supervisor.
 *
 * @module
 */
export * from "./protocol.ts";
export * from "./behaviour.ts";
export * from "./mailbox.ts";
export * from "./endpoint.ts";
export type { ActorHandle, ActorSpec, PlacementKind, SpawnOptions } from "./actor.ts";
export { spawnInline } from "./inline.ts";
export { HOST_WORKER_URL, WorkerHost, type WorkerHostOptions } from "./worker_host.ts";
export { WorkerPool, type WorkerPoolOptions } from "./pool.ts";
export { actorChild, type Link, link, type Placement, spawnActor } from "./placement.ts";
export * from "./supervisor.ts";
