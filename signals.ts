/**
 * Shutdown signals: the first SIGINT or SIGTERM starts one graceful drain; a later one means
 * "exit at once". A repeat that arrives right after the first is the same request delivered
 * twice (a terminal's Ctrl-C or systemd's SIGTERM goes to the whole process group, so a parent
 * that also forwards it, such as `deno task`, doubles it) and is ignored.
 *
 * `./tradewind` runs the engine with `exec`, so no parent forwards anything; this gate covers
 * the engine started some other way (`deno task start`, a supervisor of one's own).
 *
 * @module
 */
import type { Clock } from "./core/clock.ts";

/** How long after the first signal a repeat counts as the same one delivered twice. */
export const DUPLICATE_SIGNAL_WINDOW_MS = 500;

/** Options of {@link shutdownGate}. */
export interface ShutdownGateOptions {
  /** Where "now" comes from (a TestClock in tests). */
  clock: Clock;
  /** Starts the graceful drain; called once, for the first signal. */
  drain: (signal: string) => void;
  /** Exits at once; called for a signal that comes after the window. */
  exitNow: (signal: string) => void;
  /** Told of a repeat inside the window, which does nothing else. */
  ignored?: (signal: string, afterMs: number) => void;
  /** Default {@link DUPLICATE_SIGNAL_WINDOW_MS}. */
  duplicateWindowMs?: number;
}

/**
 * Answers the handler to give every shutdown signal: one drain for the first, nothing for a
 * duplicate within the window, exit at once for a later one.
 *
 * @example
 * ```ts
 * const onSignal = shutdownGate({ clock, drain: (s) => void shutdown(s), exitNow: () => Deno.exit(130) });
 * Deno.addSignalListener("SIGINT", () => onSignal("SIGINT"));
 * ```
 */
export function shutdownGate(options: ShutdownGateOptions): (signal: string) => void {
  const windowMs = options.duplicateWindowMs ?? DUPLICATE_SIGNAL_WINDOW_MS;
  let firstAt: number | null = null;
  return (signal) => {
    const now = options.clock.now();
    if (firstAt === null) {
      firstAt = now;
      options.drain(signal);
    } else if (now - firstAt < windowMs) {
      options.ignored?.(signal, now - firstAt);
    } else {
      options.exitNow(signal);
    }
  };
}
