/**
 * A small HTTP + WebSocket proxy for fault tests: served on port 0 in front of a target base
 * URL (a served Tradewind standing in for Alpaca), it forwards everything faithfully until a
 * test switches a fault on:
 *
 * - {@link FaultProxy.rateLimit}: answer 429 with `X-RateLimit-Limit/Remaining/Reset` and
 *   `Retry-After`, as Alpaca does;
 * - {@link FaultProxy.fail}: answer a 5xx;
 * - {@link FaultProxy.hold}: hold a matching request until the test releases it or the client
 *   gives up, forwarding it at once (it lands, the answer is lost), on release, or never;
 * - {@link FaultProxy.dropStreams}, {@link FaultProxy.refuseStreams}: drop WebSocket
 *   connections mid-stream and refuse new ones;
 * - {@link FaultProxy.dropMessages}: drop individual server-to-client stream messages.
 *
 * Faults are matched in the order they were switched on; each has a count of uses.
 *
 * @module
 */

/** Which requests a fault applies to. `path` is matched against the path without the query. */
export interface RequestMatch {
  method?: string;
  path?: string | RegExp;
}

/** One HTTP request the proxy saw. */
export interface ProxyLogEntry {
  method: string;
  /** Path and query. */
  path: string;
  /** What the client got: a status, or `gone` when it gave up before an answer. */
  outcome: number | "gone";
  /** Whether the target received it. */
  forwarded: boolean;
}

/** A request the proxy is holding (see {@link FaultProxy.hold}). */
export interface HeldRequest {
  method: string;
  /** Path and query. */
  path: string;
  /** The request body as text. */
  body: string;
  /** Resolves when the client gave up waiting (aborted or closed its connection). */
  readonly clientGone: Promise<void>;
  /**
   * Resolves with the target's status once the request was forwarded (`forward: "now"` at
   * arrival, `"on_release"` at release); never for `"never"`.
   */
  readonly forwarded: Promise<number>;
  /**
   * Lets the request go: forwards it if it has not been (unless `never`), and answers the
   * client if it is still waiting (`502` for a request never forwarded).
   */
  release(): Promise<void>;
}

/** One server-to-client stream message, as {@link FaultProxy.dropMessages} sees it. */
export interface StreamFrame {
  /** The stream's path (`/stream`, `/v2/iex` …). */
  path: string;
  data: string | Uint8Array;
  /** The frame as UTF-8 text (JSON in text or binary frames); null for non-text (msgpack). */
  text: string | null;
}

/** Options of {@link FaultProxy.rateLimit}. */
export interface RateLimitOptions {
  /** How many matching requests get a 429. Default 1. */
  times?: number;
  /** `X-RateLimit-Limit`. Default 200. */
  limit?: number;
  /** `X-RateLimit-Reset`, unix seconds. Default now + `retryAfterSec`. */
  resetAtSec?: number;
  /** `Retry-After`, seconds. Default 1. */
  retryAfterSec?: number;
}

interface Fault {
  match: RequestMatch;
  remaining: number;
  respond?: () => Response;
  hold?: { forward: "now" | "on_release" | "never"; arrived: (h: HeldRequest) => void };
}

interface Pipe {
  path: string;
  /** Closes both sides; the client sees `code` (an abnormal close unless told). */
  kill(code?: number): void;
}

const HOP_HEADERS = ["host", "connection", "content-length", "transfer-encoding", "keep-alive"];
const utf8 = new TextDecoder("utf-8", { fatal: true });

function matches(m: RequestMatch, method: string, path: string): boolean {
  if (m.method && m.method.toUpperCase() !== method) return false;
  if (m.path === undefined) return true;
  return typeof m.path === "string" ? m.path === path : m.path.test(path);
}

function alpacaJson(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

/** A running fault proxy; build one with {@link startFaultProxy}. */
export class FaultProxy {
  /** `http://127.0.0.1:<port>`: point REST clients here. */
  readonly baseUrl: string;
  /** `ws://127.0.0.1:<port>`: point stream clients here. */
  readonly wsUrl: string;
  /** Every HTTP request seen (WebSocket upgrades excluded), in arrival order. */
  readonly log: ProxyLogEntry[] = [];
  /** Every client-to-server stream message, in order (to check resubscription). */
  readonly sent: StreamFrame[] = [];
  /** Every server-to-client stream message delivered (not dropped), in order. */
  readonly received: StreamFrame[] = [];
  readonly #target: string;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #faults: Fault[] = [];
  readonly #pipes = new Set<Pipe>();
  readonly #opened: ((p: string) => void)[] = [];
  #refuse = false;
  #drops: { pred: (f: StreamFrame) => boolean; remaining: number; dropped: StreamFrame[] }[] = [];

  constructor(target: string) {
    this.#target = target.replace(/\/$/, "");
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      (req) => this.#handle(req),
    );
    this.baseUrl = `http://127.0.0.1:${this.#server.addr.port}`;
    this.wsUrl = `ws://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Answers the next `times` matching requests with Alpaca's 429 and rate-limit headers. */
  rateLimit(match: RequestMatch, options: RateLimitOptions = {}): void {
    const retryAfter = options.retryAfterSec ?? 1;
    this.#faults.push({
      match,
      remaining: options.times ?? 1,
      respond: () =>
        alpacaJson(429, { code: 42910000, message: "rate limit exceeded" }, {
          "X-RateLimit-Limit": String(options.limit ?? 200),
          "X-RateLimit-Remaining": "0",
          "X-RateLimit-Reset": String(
            options.resetAtSec ?? Math.ceil(Date.now() / 1000) + retryAfter,
          ),
          "Retry-After": String(retryAfter),
        }),
    });
  }

  /** Answers the next `times` (default 1) matching requests with `status` (default 503). */
  fail(match: RequestMatch, options: { status?: number; times?: number } = {}): void {
    const status = options.status ?? 503;
    this.#faults.push({
      match,
      remaining: options.times ?? 1,
      respond: () =>
        alpacaJson(status, {
          code: status * 100_000,
          message: status === 503 ? "service unavailable" : "internal server error",
        }),
    });
  }

  /**
   * Holds the next matching request; resolves when it arrives. `forward`: `now` sends it to
   * the target at once and withholds the answer (the order lands, the client times out);
   * `on_release` sends it only when released; `never` does not send it at all.
   */
  hold(
    match: RequestMatch,
    options: { forward: "now" | "on_release" | "never" },
  ): Promise<HeldRequest> {
    const { promise, resolve } = Promise.withResolvers<HeldRequest>();
    this.#faults.push({
      match,
      remaining: 1,
      hold: { forward: options.forward, arrived: resolve },
    });
    return promise;
  }

  /** Removes every HTTP fault not yet used up, and every message drop. */
  clear(): void {
    this.#faults.length = 0;
    this.#drops = [];
  }

  /**
   * Drops the next `times` (default 1) server-to-client stream messages `pred` selects;
   * answers the list the dropped frames are added to.
   */
  dropMessages(pred: (frame: StreamFrame) => boolean, options: { times?: number } = {}) {
    const entry = { pred, remaining: options.times ?? 1, dropped: [] as StreamFrame[] };
    this.#drops.push(entry);
    return entry.dropped;
  }

  /** Closes every open stream connection (on `path`, if given) abruptly; answers how many. */
  dropStreams(path?: string): number {
    let n = 0;
    for (const p of [...this.#pipes]) {
      if (path !== undefined && p.path !== path) continue;
      p.kill(1011);
      n++;
    }
    return n;
  }

  /** While on, new stream connections are refused with 503 (the venue is unreachable). */
  refuseStreams(on: boolean): void {
    this.#refuse = on;
  }

  /** Open stream connections (on `path`, if given). */
  streams(path?: string): number {
    return [...this.#pipes].filter((p) => path === undefined || p.path === path).length;
  }

  /** Resolves with the path of the next stream connection that is through to the target. */
  nextStream(): Promise<string> {
    const { promise, resolve } = Promise.withResolvers<string>();
    this.#opened.push(resolve);
    return promise;
  }

  /** Drops every connection and stops serving. */
  async close(): Promise<void> {
    this.dropStreams();
    await this.#server.shutdown();
  }

  async #handle(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname + url.search;
    if (req.headers.get("upgrade")?.toLowerCase() === "websocket") {
      return this.#upgrade(req, url);
    }
    const method = req.method.toUpperCase();
    const entry: ProxyLogEntry = { method, path, outcome: "gone", forwarded: false };
    this.log.push(entry);
    const body = method === "GET" || method === "HEAD" ? null : await req.arrayBuffer();
    const fault = this.#faults.find((f) =>
      f.remaining > 0 && matches(f.match, method, url.pathname)
    );
    if (fault) fault.remaining--;
    if (fault?.respond) {
      const res = fault.respond();
      entry.outcome = res.status;
      return res;
    }
    const forward = async (): Promise<Response> => {
      const res = await this.#forward(req, path, body);
      entry.forwarded = true;
      return res;
    };
    if (!fault?.hold) {
      const res = await forward();
      entry.outcome = res.status;
      return res;
    }
    return await this.#hold(req, entry, body, forward, fault.hold);
  }

  #hold(
    req: Request,
    entry: ProxyLogEntry,
    body: ArrayBuffer | null,
    forward: () => Promise<Response>,
    spec: NonNullable<Fault["hold"]>,
  ): Promise<Response> {
    const gone = Promise.withResolvers<void>();
    // Listen for the client giving up only while the request is held: once answered, an abort
    // is the end of a delivered response, not a client that gave up.
    let answered = false;
    const onAbort = () => {
      if (!answered) gone.resolve();
    };
    if (req.signal.aborted) gone.resolve();
    req.signal.addEventListener("abort", onAbort, { once: true });
    const forwarded = Promise.withResolvers<number>();
    let upstream: Promise<Response> | null = null;
    const send = () => {
      upstream ??= forward().then((res) => {
        forwarded.resolve(res.status);
        return res;
      });
      return upstream;
    };
    if (spec.forward === "now") send();
    const released = Promise.withResolvers<void>();
    const answer = Promise.withResolvers<Response>();
    spec.arrived({
      method: entry.method,
      path: entry.path,
      body: body ? new TextDecoder().decode(body) : "",
      clientGone: gone.promise,
      forwarded: forwarded.promise,
      async release() {
        released.resolve();
        if (spec.forward === "never") {
          answer.resolve(alpacaJson(502, { code: 50210000, message: "bad gateway" }));
          return;
        }
        const res = await send();
        answer.resolve(res);
      },
    });
    return Promise.race([
      answer.promise.then((res) => {
        answered = true;
        req.signal.removeEventListener("abort", onAbort);
        entry.outcome = res.status;
        return res;
      }),
      gone.promise.then(() => {
        entry.outcome = "gone";
        return new Response(null, { status: 499 });
      }),
    ]);
  }

  async #forward(req: Request, path: string, body: ArrayBuffer | null): Promise<Response> {
    const headers = new Headers(req.headers);
    for (const h of HOP_HEADERS) headers.delete(h);
    const res = await fetch(this.#target + path, {
      method: req.method,
      headers,
      body,
      redirect: "manual",
    });
    const out = new Headers(res.headers);
    out.delete("content-encoding");
    out.delete("content-length");
    const bytes = await res.arrayBuffer();
    // 204, 205 and 304 carry no body at all (a Response refuses even an empty one).
    const noBody = res.status === 204 || res.status === 205 || res.status === 304;
    return new Response(noBody ? null : bytes, { status: res.status, headers: out });
  }

  #upgrade(req: Request, url: URL): Response {
    if (this.#refuse) {
      return alpacaJson(503, { code: 50310000, message: "service unavailable" });
    }
    const headers: Record<string, string> = {};
    for (const h of ["content-type", "authorization", "apca-api-key-id", "apca-api-secret-key"]) {
      const v = req.headers.get(h);
      if (v !== null) headers[h] = v;
    }
    const { socket: client, response } = Deno.upgradeWebSocket(req);
    const target = this.#target.replace(/^http/, "ws") + url.pathname + url.search;
    const upstream = new WebSocket(target, { headers } as unknown as string[]);
    upstream.binaryType = "arraybuffer";
    client.binaryType = "arraybuffer";
    const pipe: Pipe = { path: url.pathname, kill: (code) => closeBoth(code) };
    // Each side's messages wait until both sides are open; a dropped pipe passes nothing.
    const toUpstream: (string | ArrayBuffer)[] = [];
    const toClient: (string | ArrayBuffer)[] = [];
    let dead = false;
    const closeBoth = (code?: number) => {
      dead = true;
      this.#pipes.delete(pipe);
      for (const s of [client, upstream]) {
        try {
          if (s.readyState > WebSocket.OPEN) continue;
          if (s === client && code !== undefined) s.close(code, "fault proxy: connection dropped");
          else s.close();
        } catch { /* already closing */ }
      }
    };
    const deliver = (data: string | ArrayBuffer) => {
      const f = frame(pipe.path, data);
      const drop = this.#drops.find((d) => d.remaining > 0 && d.pred(f));
      if (drop) {
        drop.remaining--;
        drop.dropped.push(f);
      } else {
        this.received.push(f);
        client.send(data);
      }
    };
    const bothOpen = () => {
      if (dead || client.readyState !== WebSocket.OPEN) return;
      if (upstream.readyState !== WebSocket.OPEN) return;
      this.#pipes.add(pipe);
      for (const m of toUpstream.splice(0)) upstream.send(m);
      for (const m of toClient.splice(0)) deliver(m);
      for (const f of this.#opened.splice(0)) f(pipe.path);
    };
    upstream.onopen = bothOpen;
    client.onopen = bothOpen;
    client.onmessage = (e) => {
      if (dead) return;
      this.sent.push(frame(pipe.path, e.data));
      if (this.#pipes.has(pipe)) upstream.send(e.data);
      else toUpstream.push(e.data);
    };
    upstream.onmessage = (e) => {
      if (dead) return;
      if (this.#pipes.has(pipe)) deliver(e.data);
      else toClient.push(e.data);
    };
    client.onclose = () => closeBoth();
    upstream.onclose = (e) => closeBoth(sendableCode(e.code) ? e.code : 1011);
    client.onerror = () => closeBoth();
    upstream.onerror = () => closeBoth();
    return response;
  }
}

/** Whether a close code may be sent in a close frame (1005 and 1006 are reserved). */
function sendableCode(code: number): boolean {
  return code === 1000 || (code >= 1001 && code <= 1014 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999);
}

function frame(path: string, data: string | ArrayBuffer): StreamFrame {
  if (typeof data === "string") return { path, data, text: data };
  const bytes = new Uint8Array(data);
  let text: string | null = null;
  try {
    text = utf8.decode(bytes);
  } catch { /* not text: msgpack */ }
  return { path, data: bytes, text };
}

/** Starts a fault proxy on port 0 in front of `target` (e.g. `http://127.0.0.1:1234`). */
export function startFaultProxy(target: string): FaultProxy {
  return new FaultProxy(target);
}
