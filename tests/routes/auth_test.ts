import { assert, assertEquals } from "../_assert.ts";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createAuthenticator, signToken } from "../../routes/auth.ts";
import { createTestApp, DB_TEST, TEST_SECRET, tokenFor } from "../_helpers.ts";

const enc = new TextEncoder();

function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === "string" ? enc.encode(data) : data;
  return btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

async function expect401(res: Response, includes: string) {
  assertEquals(res.status, 401);
  assertEquals(res.headers.get("content-type")?.startsWith("application/json"), true);
  const body = await res.json();
  assertEquals(body.error.code, "UNAUTHORIZED");
  assert(body.error.message.includes(includes), `${body.error.message} should include ${includes}`);
}

Deno.test({
  name: "auth: missing, malformed, expired, wrongly signed and alg none tokens get 401",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp();
  try {
    await expect401(await t.app.request("/api/v1/me"), "Missing bearer token");
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: "Bearer nope" } }),
      "malformed",
    );
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: "Basic abc" } }),
      "Missing bearer token",
    );
    const expired = await new SignJWT({ role: "trader" })
      .setProtectedHeader({ alg: "HS256" }).setSubject("alice").setIssuer("tradewind")
      .setAudience("tradewind").setIssuedAt(1_000).setExpirationTime(2_000)
      .sign(enc.encode(TEST_SECRET));
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${expired}` } }),
      "expired",
    );
    const wrongKey = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256" }).setSubject("alice").setIssuer("tradewind")
      .setAudience("tradewind").setExpirationTime("1h")
      .sign(enc.encode("another-secret-another-secret-another-secret"));
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${wrongKey}` } }),
      "signature",
    );
    const none = `${b64url(JSON.stringify({ alg: "none", typ: "JWT" }))}.${
      b64url(
        JSON.stringify({
          sub: "alice",
          role: "admin",
          iss: "tradewind",
          aud: "tradewind",
          exp: 9999999999,
        }),
      )
    }.`;
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${none}` } }),
      "not accepted",
    );
    const wrongAudience = await new SignJWT({ role: "trader" })
      .setProtectedHeader({ alg: "HS256" }).setSubject("alice").setIssuer("tradewind")
      .setAudience("someone-else").setExpirationTime("1h").sign(enc.encode(TEST_SECRET));
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${wrongAudience}` } }),
      "claim",
    );
  } finally {
    await t.close();
  }
});

Deno.test(
  { name: "auth: a valid token creates the user on first request", ...DB_TEST },
  async () => {
    const t = await createTestApp();
    try {
      const before = await t.db.owner`select 1 from users where username = 'dora'`;
      assertEquals(before.length, 0);
      const res = await t.as("dora", "/api/v1/me", { role: "admin" });
      assertEquals(res.status, 200);
      const me = await res.json();
      assertEquals(me.username, "dora");
      assertEquals(me.role, "admin");
      const [row] = await t.db.owner<{ id: string; role: string }[]>`
      select id, role from users where username = 'dora'`;
      assertEquals(row, { id: me.id, role: "admin" });
      const again = await (await t.as("dora", "/api/v1/me", { role: "admin" })).json();
      assertEquals(again.id, me.id);
      assert(res.headers.get("x-request-id"), "responses carry a request id");
    } finally {
      await t.close();
    }
  },
);

Deno.test(
  { name: "auth: /health and /ready are open, everything else needs a token", ...DB_TEST },
  async () => {
    const t = await createTestApp();
    try {
      assertEquals((await t.app.request("/health")).status, 200);
      const ready = await t.app.request("/ready");
      assertEquals(ready.status, 200);
      assertEquals((await ready.json()).checks.migrations, "current");
      assertEquals((await t.app.request("/metrics")).status, 401);
      const m = await t.as("erin", "/metrics", { role: "admin" });
      assertEquals(m.status, 200);
      assert((await m.text()).includes("tradewind_http_requests_total"));
    } finally {
      await t.close();
    }
  },
);

Deno.test("auth: external identity provider (JWKS over real HTTP), with algorithm confusion refused", async () => {
  const { publicKey, privateKey } = await generateKeyPair("RS256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
    () => Response.json({ keys: [jwk] }),
  );
  try {
    const auth = createAuthenticator({
      secret: TEST_SECRET,
      issuer: "https://idp.example",
      audience: "tradewind-api",
      jwksUrl: `http://127.0.0.1:${server.addr.port}/jwks.json`,
    });
    const good = await new SignJWT({ role: "compliance", preferred_username: "frank" })
      .setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("user-123")
      .setIssuer("https://idp.example").setAudience("tradewind-api").setExpirationTime("5m")
      .sign(privateKey);
    // The account is the IdP's subject; preferred_username is only a display name.
    assertEquals(await auth.verify(good), { username: "user-123", role: "compliance" });

    const wrongIssuer = await new SignJWT({})
      .setProtectedHeader({ alg: "RS256", kid: "k1" }).setSubject("frank")
      .setIssuer("https://evil.example").setAudience("tradewind-api").setExpirationTime("5m")
      .sign(privateKey);
    let failed = false;
    try {
      await auth.verify(wrongIssuer);
    } catch (e) {
      failed = (e as { code?: string }).code === "UNAUTHORIZED";
    }
    assert(failed, "wrong issuer refused");

    // Algorithm confusion: an HS256 token whose HMAC key is the provider's public key.
    const publicPem = JSON.stringify(jwk);
    const confused = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "HS256", kid: "k1" }).setSubject("mallory")
      .setIssuer("https://idp.example").setAudience("tradewind-api").setExpirationTime("5m")
      .sign(enc.encode(publicPem));
    failed = false;
    try {
      await auth.verify(confused);
    } catch (e) {
      failed = (e as { code?: string }).code === "UNAUTHORIZED";
    }
    assert(failed, "HS256 signed with the public key is refused");
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("auth: tokens signed by the CLI helper verify, with the role claim", async () => {
  const auth = createAuthenticator({
    secret: TEST_SECRET,
    issuer: "tradewind",
    audience: "tradewind",
  });
  const token = await tokenFor("gina", "compliance");
  assertEquals(await auth.verify(token), { username: "gina", role: "compliance" });
});

const NOW_S = () => Math.floor(Date.now() / 1000);

function signed(claims: Record<string, unknown>, build: (j: SignJWT) => SignJWT = (j) => j) {
  return build(
    new SignJWT({ role: "trader", ...claims }).setProtectedHeader({ alg: "HS256" })
      .setIssuer("tradewind").setAudience("tradewind"),
  ).sign(enc.encode(TEST_SECRET));
}

Deno.test({
  name: "auth: a token without exp, or living longer than JWT_MAX_TTL, gets 401",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp();
  const me = async (token: string) =>
    await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${token}` } });
  try {
    const now = NOW_S();
    await expect401(await me(await signed({ sub: "alice" }, (j) => j.setIssuedAt())), "no expiry");
    // 31 days from iat, from an iat long ago, and (no iat) from now: all past the 30-day cap.
    await expect401(
      await me(
        await signed(
          { sub: "alice" },
          (j) => j.setIssuedAt(now).setExpirationTime(now + 31 * 86400),
        ),
      ),
      "exceeds the maximum of 2592000 s (JWT_MAX_TTL 30d)",
    );
    await expect401(
      await me(
        await signed(
          { sub: "alice" },
          (j) => j.setIssuedAt(now - 40 * 86400).setExpirationTime(now + 3600),
        ),
      ),
      "lifetime",
    );
    await expect401(
      await me(await signed({ sub: "alice" }, (j) => j.setExpirationTime(now + 365 * 86400))),
      "lifetime",
    );
    const ok = await me(
      await signed({ sub: "alice" }, (j) => j.setIssuedAt(now).setExpirationTime(now + 30 * 86400)),
    );
    assertEquals(ok.status, 200);
  } finally {
    await t.close();
  }
  // A configured cap applies to verification and to signing alike.
  const auth = createAuthenticator({
    secret: TEST_SECRET,
    issuer: "tradewind",
    audience: "tradewind",
    maxTtlSeconds: 3600,
  });
  let refused = "";
  try {
    await auth.verify(await tokenFor("alice", "trader", 7200));
  } catch (e) {
    refused = (e as Error).message;
  }
  assert(refused.includes("JWT_MAX_TTL 1h"), refused);
  assertEquals(await auth.verify(await tokenFor("alice", "trader", 3600)), {
    username: "alice",
    role: "trader",
  });
  let signError = "";
  try {
    await signToken({ username: "alice", role: "trader" }, {
      secret: TEST_SECRET,
      issuer: "tradewind",
      audience: "tradewind",
      ttlSeconds: 7200,
      maxTtlSeconds: 3600,
    });
  } catch (e) {
    signError = (e as Error).message;
  }
  assertEquals(signError, 'Cannot sign a token valid for "2h": the maximum is "1h" (JWT_MAX_TTL)');
});

Deno.test({
  name: "auth: the user is the token's sub; preferred_username never overrides it",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp();
  try {
    const token = await signed(
      { sub: "mallory", preferred_username: "root" },
      (j) => j.setIssuedAt().setExpirationTime("1h"),
    );
    const res = await t.app.request("/api/v1/me", {
      headers: { Authorization: `Bearer ${token}` },
    });
    assertEquals(res.status, 200);
    assertEquals((await res.json()).username, "mallory");
    const rows = await t.db.owner<{ username: string }[]>`select username from users`;
    assertEquals(rows.map((r) => r.username), ["mallory"]);
    // No sub: no identity, whatever else the token claims.
    const noSub = await signed({ preferred_username: "root" }, (j) => j.setExpirationTime("1h"));
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${noSub}` } }),
      "Token subject (sub) is missing",
    );
  } finally {
    await t.close();
  }
});

Deno.test({
  name: "auth: /metrics answers admins and the METRICS_TOKEN bearer only",
  ...DB_TEST,
}, async () => {
  const metricsToken = "scraper-secret-scraper-secret-scraper-secret";
  const t = await createTestApp({ metricsToken });
  try {
    const trader = await t.as("erin", "/metrics");
    assertEquals([trader.status, (await trader.json()).error.code], [403, "FORBIDDEN"]);
    const compliance = await t.as("cora", "/metrics", { role: "compliance" });
    assertEquals(compliance.status, 403);
    await compliance.body?.cancel();
    const admin = await t.as("root", "/metrics", { role: "admin" });
    assertEquals(admin.status, 200);
    await admin.body?.cancel();
    const scraper = await t.app.request("/metrics", {
      headers: { Authorization: `Bearer ${metricsToken}` },
    });
    assertEquals(scraper.status, 200);
    assert((await scraper.text()).includes("tradewind_http_requests_total"));
    await expect401(
      await t.app.request("/metrics", { headers: { Authorization: `Bearer ${metricsToken}x` } }),
      "malformed",
    );
    // The scraper's bearer is not a user token anywhere else.
    await expect401(
      await t.app.request("/api/v1/me", { headers: { Authorization: `Bearer ${metricsToken}` } }),
      "malformed",
    );
  } finally {
    await t.close();
  }
});
