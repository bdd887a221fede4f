/**
 * The audit checkpointer: logs every audit chain's head (chain, seq, hash) when the engine
 * starts, every hour on the engine's clock, and once more when it stops.
 *
 * The chain alone cannot show that a chain's newest rows were removed, or that a chain was
 * rewritten and its hashes recomputed by someone with the database's superuser: only a copy
 * of the heads kept outside the database can. An operator who ships the engine's logs
 * elsewhere holds such copies; `tradewind audit verify --checkpoint <log file>` checks the
 * trail against every one of them.
 *
 * @example
 * ```ts
 * const checkpoints = new AuditCheckpointer({ sql, clock, log: (l, m, f) => audit[l](m, f) });
 * await checkpoints.start(); // logs one now, then every hour
 * await checkpoints.stop();
 * ```
 *
 * @module
 */
import type { Sql } from "postgres";
import type { Clock } from "../core/clock.ts";
import { type AuditCheckpoint, makeCheckpoint } from "../core/audit_chain.ts";
import { readAuditHeads } from "../db/audit.ts";

/** Every hour. */
export const CHECKPOINT_EVERY_MS = 3_600_000;

/** Options of {@link AuditCheckpointer}. */
export interface AuditCheckpointerOptions {
  /** The engine's connection (reads heads through `tradewind_audit_heads()`). */
  sql: Sql;
  clock: Clock;
  /** Interval between checkpoints ({@link CHECKPOINT_EVERY_MS}). */
  everyMs?: number;
  /** Receives "Audit checkpoint {checkpoint}" (info) and failures (error). */
  log: (level: "info" | "error", message: string, fields: Record<string, unknown>) => void;
}

/** Logs audit checkpoints at start, on a timer, and at shutdown. */
export class AuditCheckpointer {
  readonly #options: AuditCheckpointerOptions;
  #cancel: (() => void) | null = null;
  #inFlight: Promise<AuditCheckpoint | null> = Promise.resolve(null);

  constructor(options: AuditCheckpointerOptions) {
    if (options.everyMs !== undefined && !(options.everyMs > 0)) {
      throw new RangeError(
        `Cannot checkpoint the audit trail every "${options.everyMs}" ms: use a positive interval`,
      );
    }
    this.#options = options;
  }

  /** Logs a checkpoint now and arms the timer (idempotent). Answers the first checkpoint. */
  async start(): Promise<AuditCheckpoint | null> {
    if (this.#cancel) return await this.#inFlight;
    this.#cancel = this.#options.clock.setRepeating(
      () => void this.checkpoint(),
      this.#options.everyMs ?? CHECKPOINT_EVERY_MS,
    );
    return await this.checkpoint();
  }

  /**
   * Reads and logs one checkpoint now (after any still in flight). Answers it, or null when
   * the heads could not be read (logged as an error; the timer carries on).
   */
  checkpoint(): Promise<AuditCheckpoint | null> {
    this.#inFlight = this.#inFlight.then(() => this.#take());
    return this.#inFlight;
  }

  /**
   * Disarms the timer and, if started, logs a last checkpoint (call it once the engine has
   * stopped writing, before the database closes), so the newest rows are anchored too.
   */
  async stop(): Promise<void> {
    if (!this.#cancel) return void await this.#inFlight;
    this.#cancel();
    this.#cancel = null;
    await this.checkpoint();
  }

  async #take(): Promise<AuditCheckpoint | null> {
    const takenAt = this.#options.clock.now();
    try {
      const checkpoint = makeCheckpoint(takenAt, await readAuditHeads(this.#options.sql));
      this.#options.log("info", "Audit checkpoint {checkpoint}", { checkpoint });
      return checkpoint;
    } catch (e) {
      this.#options.log("error", "Audit checkpoint failed: {error}", { error: String(e) });
      return null;
    }
  }
}
