import { assert, assertEquals } from "./_assert.ts";
import { startFaultProxy } from "./_fault_proxy.ts";

/** A tiny target: JSON routes, an order counter, and a numbered WebSocket stream. */
function target() {
  const orders: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const url = new URL(req.url);
    if (req.headers.get("upgrade") === "websocket") {
      const kind = req.headers.get("content-type");
      const { socket, response } = Deno.upgradeWebSocket(req);
      socket.onopen = () => socket.send(JSON.stringify({ hello: url.pathname, kind }));
      socket.onmessage = (e) => {
        if (e.data === "go") { for (const m of ["m1", "m2", "m3"]) socket.send(m); }
        else if (e.data === "bin") socket.send(new TextEncoder().encode('{"b":1}'));
        else socket.send(`echo:${e.data}`);
      };
      return response;
    }
    if (req.method === "DELETE") return new Response(null, { status: 204 });
    if (req.method === "POST" && url.pathname === "/v2/orders") {
      orders.push(await req.text());
      return Response.json({ id: `o${orders.length}` }, { headers: { "X-Request-ID": "r1" } });
    }
    return Response.json({ path: url.pathname, query: url.search }, { status: 200 });
  });
  return {
    orders,
    url: `http://127.0.0.1:${server.addr.port}`,
    close: () => server.shutdown(),
  };
}

/** Opens a socket and collects what it receives; resolves once open. */
async function socket(url: string, init?: { headers: Record<string, string> }) {
  const ws = new WebSocket(url, init as unknown as string[]);
  ws.binaryType = "arraybuffer";
  const got: string[] = [];
  const closed = Promise.withResolvers<number>();
  let wake: (() => void) | null = null;
  ws.onmessage = (e) => {
    got.push(typeof e.data === "string" ? e.data : "bin:" + new TextDecoder().decode(e.data));
    wake?.();
  };
  ws.onclose = (e) => closed.resolve(e.code);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error("Cannot open socket"));
  });
  return {
    ws,
    got,
    closed: closed.promise,
    /** Waits until `n` messages have arrived. */
    async count(n: number) {
      while (got.length < n) await new Promise<void>((r) => wake = r);
    },
  };
}

Deno.test("fault proxy: forwards requests and answers faithfully, logging each", async () => {
  const t = target();
  const proxy = startFaultProxy(t.url);
  try {
    const res = await fetch(`${proxy.baseUrl}/v2/account?x=1`);
    assertEquals(res.status, 200);
    assertEquals(await res.json(), { path: "/v2/account", query: "?x=1" });
    const post = await fetch(`${proxy.baseUrl}/v2/orders`, { method: "POST", body: '{"a":1}' });
    assertEquals(await post.json(), { id: "o1" });
    assertEquals(post.headers.get("x-request-id"), "r1");
    assertEquals(t.orders, ['{"a":1}']);
    const del = await fetch(`${proxy.baseUrl}/v2/orders/o1`, { method: "DELETE" });
    assertEquals([del.status, await del.text()], [204, ""]);
    assertEquals(proxy.log.map((e) => [e.method, e.path, e.outcome, e.forwarded]), [
      ["GET", "/v2/account?x=1", 200, true],
      ["POST", "/v2/orders", 200, true],
      ["DELETE", "/v2/orders/o1", 204, true],
    ]);
  } finally {
    await proxy.close();
    await t.close();
  }
});

Deno.test("fault proxy: 429 with rate-limit headers and 5xx, as many times as told", async () => {
  const t = target();
  const proxy = startFaultProxy(t.url);
  try {
    proxy.rateLimit({ path: "/v2/account" }, { resetAtSec: 1_800_000_000, retryAfterSec: 3 });
    proxy.fail({ method: "POST", path: "/v2/orders" }, { status: 500, times: 2 });
    const limited = await fetch(`${proxy.baseUrl}/v2/account`);
    assertEquals(limited.status, 429);
    assertEquals(await limited.json(), { code: 42910000, message: "rate limit exceeded" });
    assertEquals(limited.headers.get("x-ratelimit-limit"), "200");
    assertEquals(limited.headers.get("x-ratelimit-remaining"), "0");
    assertEquals(limited.headers.get("x-ratelimit-reset"), "1800000000");
    assertEquals(limited.headers.get("retry-after"), "3");
    assertEquals(
      (await fetch(`${proxy.baseUrl}/v2/account`).then((r) => r.body?.cancel().then(() => r)))!
        .status,
      200,
    );
    for (const expected of [500, 500, 200]) {
      const r = await fetch(`${proxy.baseUrl}/v2/orders`, { method: "POST", body: "{}" });
      await r.body?.cancel();
      assertEquals(r.status, expected);
    }
    assertEquals(t.orders.length, 1, "a failed request never reaches the target");
  } finally {
    await proxy.close();
    await t.close();
  }
});

Deno.test("fault proxy: a held request forwarded at once lands though the client gave up", async () => {
  const t = target();
  const proxy = startFaultProxy(t.url);
  try {
    const held = proxy.hold({ method: "POST", path: "/v2/orders" }, { forward: "now" });
    const ac = new AbortController();
    const client = fetch(`${proxy.baseUrl}/v2/orders`, {
      method: "POST",
      body: '{"cid":"c1"}',
      signal: ac.signal,
    }).then(() => "answered", (e) => (e as Error).name);
    const h = await held;
    assertEquals(h.body, '{"cid":"c1"}');
    assertEquals(await h.forwarded, 200);
    ac.abort();
    await h.clientGone;
    assertEquals(await client, "AbortError");
    assertEquals(t.orders, ['{"cid":"c1"}']);
    assertEquals(proxy.log[0]!.outcome, "gone");
    assertEquals(proxy.log[0]!.forwarded, true);
  } finally {
    await proxy.close();
    await t.close();
  }
});

Deno.test("fault proxy: a held request never forwarded does not reach the target", async () => {
  const t = target();
  const proxy = startFaultProxy(t.url);
  try {
    const held = proxy.hold({ method: "POST", path: "/v2/orders" }, { forward: "never" });
    const ac = new AbortController();
    const client = fetch(`${proxy.baseUrl}/v2/orders`, {
      method: "POST",
      body: "{}",
      signal: ac.signal,
    })
      .catch((e) => (e as Error).name);
    const h = await held;
    ac.abort();
    await h.clientGone;
    await h.release();
    assertEquals(await client, "AbortError");
    assertEquals(t.orders.length, 0);
    assertEquals(proxy.log[0]!.forwarded, false);
    // The next one goes through.
    const r = await fetch(`${proxy.baseUrl}/v2/orders`, { method: "POST", body: "{}" });
    assertEquals(await r.json(), { id: "o1" });
  } finally {
    await proxy.close();
    await t.close();
  }
});

Deno.test("fault proxy: a request held until release is forwarded then, and answered", async () => {
  const t = target();
  const proxy = startFaultProxy(t.url);
  try {
    const held = proxy.hold({ path: /^\/v2\/orders/ }, { forward: "on_release" });
    const client = fetch(`${proxy.baseUrl}/v2/orders`, { method: "POST", body: "late" });
    const h = await held;
    assertEquals(t.orders.length, 0, "not forwarded before release");
    await h.release();
    assertEquals(await h.forwarded, 200);
    assertEquals(await (await client).json(), { id: "o1" });
    assertEquals(t.orders, ["late"]);
  } finally {
    await proxy.close();
    await t.close();
  }
});

Deno.test("fault proxy: streams pass both ways, drop chosen messages, drop and refuse connections", async () => {
  const t = target();
  const proxy = startFaultProxy(t.url);
  try {
    const opened = proxy.nextStream();
    const a = await socket(`${proxy.wsUrl}/v2/iex`, {
      headers: { "Content-Type": "application/msgpack" },
    });
    assertEquals(await opened, "/v2/iex");
    await a.count(1);
    assertEquals(JSON.parse(a.got[0]!), { hello: "/v2/iex", kind: "application/msgpack" });
    const dropped = proxy.dropMessages((f) => f.text === "m2");
    a.ws.send("go");
    a.ws.send("bin");
    await a.count(4);
    assertEquals(a.got.slice(1), ["m1", "m3", 'bin:{"b":1}']);
    assertEquals(dropped.map((f) => f.text), ["m2"]);
    assertEquals(proxy.sent.map((f) => f.text), ["go", "bin"]);
    assertEquals(proxy.streams("/v2/iex"), 1);

    assertEquals(proxy.dropStreams(), 1);
    assertEquals(await a.closed, 1011);
    assertEquals(proxy.streams(), 0);

    proxy.refuseStreams(true);
    let refused = false;
    try {
      const b = await socket(`${proxy.wsUrl}/stream`);
      b.ws.close();
    } catch {
      refused = true;
    }
    assert(refused, "a new connection is refused while refusing");
    proxy.refuseStreams(false);
    const c = await socket(`${proxy.wsUrl}/stream`);
    c.ws.send("x");
    await c.count(2);
    assertEquals(c.got[1], "echo:x");
    c.ws.close();
    await c.closed;
  } finally {
    await proxy.close();
    await t.close();
  }
});
