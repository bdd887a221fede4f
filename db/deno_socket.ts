/**
 * A socket for postgres.js on Deno's own TCP (`Deno.connect`) instead of the Node `net`
 * compatibility layer, whose per-write cost dominated the order path's CPU profile.
 *
 * postgres.js accepts a `socket` factory that answers a connected, `net.Socket`-like object;
 * it uses `on`/`once`/`removeAllListeners`, `write(data, callback)`, `end(data)`, `destroy()`,
 * `setKeepAlive()` and `readyState`. Plain TCP only: connections asking for TLS keep the
 * default socket (see {@link denoSocketOption}).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";

/** A connected `net.Socket` look-alike over a `Deno.Conn`. */
export class DenoSocket extends EventEmitter {
  readyState: "open" | "closed" = "open";
  destroyed = false;
  readonly #conn: Deno.Conn;
  #writing: Promise<void> = Promise.resolve();
  /** Bytes queued while a write is in flight (or earlier in this tick), sent as one write. */
  #pending: Uint8Array[] = [];
  #callbacks: (() => void)[] = [];
  #flushing = false;

  constructor(conn: Deno.Conn) {
    super();
    this.#conn = conn;
    this.#read();
  }

  async #read(): Promise<void> {
    const buf = new Uint8Array(64 * 1024);
    try {
      while (true) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        this.emit("data", Buffer.from(buf.subarray(0, n)));
      }
      this.#close();
    } catch (e) {
      this.#fail(e);
    }
  }

  /**
   * Queues bytes; `callback` runs once they are written. Never applies back-pressure. Bytes
   * queued in the same tick, or while a write is in flight, leave in one write (one system
   * call: on loopback the sender pays for the receiver's TCP work, per write).
   */
  write(data: Uint8Array | string, callback?: () => void): boolean {
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    this.#pending.push(bytes);
    if (callback) this.#callbacks.push(callback);
    if (!this.#flushing) {
      this.#flushing = true;
      this.#writing = Promise.resolve().then(() => this.#flush());
    }
    return true;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#pending.length > 0) {
        const parts = this.#pending;
        const callbacks = this.#callbacks;
        this.#pending = [];
        this.#callbacks = [];
        if (this.readyState === "closed") return;
        const bytes = parts.length === 1 ? parts[0]! : concat(parts);
        let off = 0;
        while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
        for (const cb of callbacks) cb();
      }
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#flushing = false;
    }
  }

  /** Writes `data` (if any), then closes. */
  end(data?: Uint8Array | string): void {
    if (data) this.write(data, () => this.destroy());
    else this.#writing.then(() => this.destroy());
  }

  destroy(): void {
    this.destroyed = true;
    this.#close();
  }

  setKeepAlive(enable: boolean): void {
    try {
      (this.#conn as Deno.TcpConn).setKeepAlive?.(enable);
    } catch { /* closed */ }
  }

  setNoDelay(): void {}

  #close(): void {
    if (this.readyState === "closed") return;
    this.readyState = "closed";
    try {
      this.#conn.close();
    } catch { /* already closed */ }
    this.emit("close");
  }

  #fail(e: unknown): void {
    if (this.readyState === "closed") return;
    this.emit("error", e);
    this.#close();
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * The postgres.js `socket` option for a connection URL: Deno's TCP for plain connections,
 * `undefined` (the default Node socket) when TLS is requested or the host is a Unix socket.
 */
export function denoSocketOption(url: string):
  | ((options: { host: string[]; port: number[] }) => Promise<DenoSocket>)
  | undefined {
  const u = new URL(url);
  const sslmode = u.searchParams.get("sslmode") ?? u.searchParams.get("ssl");
  if (sslmode && !["disable", "false", "allow", "prefer"].includes(sslmode)) return undefined;
  if (u.hostname === "" || u.hostname.startsWith("/")) return undefined;
  return async (options) => {
    const conn = await Deno.connect({
      hostname: options.host[0] ?? u.hostname,
      port: options.port[0] ?? Number(u.port || 5432),
    });
    conn.setNoDelay(true);
    return new DenoSocket(conn);
  };
}
