/**
 * The I/O shell both Alpaca stream clients share: one Deno `WebSocket` at a time, a handshake
 * deadline, reconnects after an exponential backoff with jitter on the injected clock, and an
 * orderly close. The protocol (what to send, what a frame means) lives in the stream that
 * hosts it.
 *
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import { Backoff, type BackoffOptions } from "./_backoff.ts";

/** Where a socket is in its life. */
export type SocketState = "idle" | "connecting" | "open" | "waiting" | "failed" | "closed";

/** What the hosting stream does with the socket's events. */
export interface SocketHandler {
  /** The socket is open (a new connection: previous protocol state is gone). */
  opened(): void;
  /** One inbound frame. */
  message(data: string | ArrayBuffer): void;
  /** The connection is gone (dropped, closed by the server, or failed to open). */
  closed(reason: string): void;
  /** A reconnect is scheduled in `delayMs`. */
  waiting(delayMs: number, attempt: number): void;
}

/** Options of {@link ReconnectingSocket}. */
export interface ReconnectingSocketOptions {
  url: string;
  /** Headers on the upgrade request (e.g. `Content-Type: application/msgpack`). */
  headers?: Record<string, string>;
  clock: Clock;
  backoff?: BackoffOptions;
  /** A connection must call {@link ReconnectingSocket.healthy} this soon after it is started. */
  handshakeTimeoutMs: number;
  /**
   * Once healthy, a connection silent this long is taken for dead (a half-open TCP link that
   * Deno's WebSocket cannot ping) and replaced. Off by default: both Alpaca streams may be
   * quiet for hours.
   */
  idleTimeoutMs?: number;
}

/** A WebSocket that reconnects until told to stop. */
export class ReconnectingSocket {
  readonly #options: ReconnectingSocketOptions;
  readonly #backoff: Backoff;
  #handler: SocketHandler | null = null;
  #ws: WebSocket | null = null;
  #state: SocketState = "idle";
  #cancelTimer: (() => void) | null = null;
  #closing: Promise<void> | null = null;
  #healthy = false;

  /** @throws {TypeError} when `url` is not a ws:// or wss:// URL. */
  constructor(options: ReconnectingSocketOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`Cannot open stream "${options.url}": not a URL`);
    }
    if (url.protocol !== "ws:" && url.protocol !== "wss:") {
      throw new TypeError(`Cannot open stream "${options.url}": use a ws:// or wss:// URL`);
    }
    this.#options = options;
    this.#backoff = new Backoff(options.backoff);
  }

  /** The socket's state. */
  get state(): SocketState {
    return this.#state;
  }

  /** Opens the first connection. @throws {Error} when started twice. */
  start(handler: SocketHandler): void {
    if (this.#handler) throw new Error(`Cannot start stream "${this.#options.url}" twice`);
    this.#handler = handler;
    this.#connect();
  }

  /** Sends a frame; answers false when no connection is open (the frame is dropped). */
  send(data: string | Uint8Array): boolean {
    const ws = this.#ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(data);
    return true;
  }

  /** The handshake succeeded: stops the handshake deadline and resets the backoff. */
  healthy(): void {
    this.#clearTimer();
    this.#backoff.reset();
    this.#healthy = true;
    this.#armIdle();
  }

  /** Closes the connection and reconnects after the next backoff delay. */
  drop(reason: string): void {
    const ws = this.#ws;
    if (!ws) return;
    this.#detach(ws);
    this.#lost(reason);
  }

  /** Closes the connection for good (no reconnect): the stream cannot recover by itself. */
  fail(reason: string): void {
    if (this.#state === "failed" || this.#state === "closed") return;
    const ws = this.#ws;
    if (ws) this.#detach(ws);
    this.#clearTimer();
    this.#state = "failed";
    this.#handler?.closed(reason);
  }

  /** Closes for good; resolves once the socket has closed (bounded at two seconds). */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#clearTimer();
    const ws = this.#ws;
    this.#state = "closed";
    this.#ws = null;
    if (!ws || ws.readyState === WebSocket.CLOSED) {
      this.#closing = Promise.resolve();
      return this.#closing;
    }
    this.#closing = new Promise<void>((resolve) => {
      const bound = setTimeout(resolve, 2000);
      const done = () => {
        clearTimeout(bound);
        resolve();
      };
      ws.onclose = done;
      ws.onerror = null;
      ws.onmessage = null;
      ws.onopen = null;
      try {
        ws.close(1000, "client closing");
      } catch {
        done();
      }
    });
    return this.#closing;
  }

  #connect(): void {
    if (this.#state === "failed" || this.#state === "closed") return;
    this.#state = "connecting";
    this.#healthy = false;
    const { url, headers } = this.#options;
    let ws: WebSocket;
    try {
      ws = headers ? new WebSocket(url, { headers }) : new WebSocket(url);
    } catch (e) {
      this.#lost(`Cannot open "${url}": ${(e as Error).message}`);
      return;
    }
    ws.binaryType = "arraybuffer";
    this.#ws = ws;
    // One deadline for the TCP/TLS/upgrade and the protocol's handshake: a connect that hangs
    // is retried like an auth that never comes.
    this.#clearTimer();
    this.#cancelTimer = this.#options.clock.setTimer(() => {
      this.#cancelTimer = null;
      this.drop(`No handshake within ${this.#options.handshakeTimeoutMs} ms`);
    }, this.#options.handshakeTimeoutMs);
    ws.onopen = () => {
      if (this.#ws !== ws) return;
      this.#state = "open";
      this.#handler?.opened();
    };
    ws.onmessage = (e: MessageEvent) => {
      if (this.#ws !== ws) return;
      if (this.#healthy) this.#armIdle();
      this.#handler?.message(e.data as string | ArrayBuffer);
    };
    ws.onerror = () => {};
    ws.onclose = (e: CloseEvent) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      this.#lost(`Connection closed (${e.code}${e.reason ? ` ${e.reason}` : ""})`);
    };
  }

  /** Stops listening to `ws` and closes it in the background. */
  #detach(ws: WebSocket): void {
    if (this.#ws === ws) this.#ws = null;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onerror = null;
    ws.onclose = null;
    try {
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.close();
    } catch {
      // already closing
    }
  }

  #lost(reason: string): void {
    this.#clearTimer();
    if (this.#state === "failed" || this.#state === "closed") return;
    this.#handler?.closed(reason);
    // The handler may have failed or closed the socket.
    if (this.#stopped()) return;
    const delay = this.#backoff.next();
    this.#state = "waiting";
    this.#handler?.waiting(delay, this.#backoff.attempt);
    this.#cancelTimer = this.#options.clock.setTimer(() => {
      this.#cancelTimer = null;
      this.#connect();
    }, delay);
  }

  /** (Re)starts the silence deadline of a healthy connection, when one is configured. */
  #armIdle(): void {
    const idle = this.#options.idleTimeoutMs;
    if (!idle) return;
    this.#clearTimer();
    this.#cancelTimer = this.#options.clock.setTimer(() => {
      this.#cancelTimer = null;
      this.drop(`Nothing received for ${idle} ms`);
    }, idle);
  }

  #stopped(): boolean {
    return this.#state === "failed" || this.#state === "closed";
  }

  #clearTimer(): void {
    this.#cancelTimer?.();
    this.#cancelTimer = null;
  }
}
