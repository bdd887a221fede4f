import { assert, assertEquals } from "../_assert.ts";
import { Hono } from "hono";
import { z } from "zod";
import { ApiError, errorResponse, mapError } from "../../routes/errors.ts";
import { ApiSpec, defineRoute } from "../../routes/openapi.ts";
import { createTestApp, DB_TEST } from "../_helpers.ts";

function tinyApp() {
  const app = new Hono();
  const spec = new ApiSpec();
  defineRoute({ app, spec, prefix: "" }, {
    method: "post",
    path: "/things/:id",
    summary: "Make a thing",
    params: z.object({ id: z.uuid() }),
    query: z.object({ dry: z.enum(["true", "false"]).optional() }),
    body: z.object({ name: z.string().min(1), qty: z.string().regex(/^\d+$/) }),
    responses: { 200: { description: "ok", schema: z.object({ ok: z.boolean() }) } },
  }, (c, input) => c.json({ ok: true, name: input.body.name }));
  app.get("/boom", () => {
    throw new Error("secret internals");
  });
  app.get("/conflict", () => {
    throw new ApiError(409, "BOT_RUNNING", 'Cannot delete bot "b1": it is running');
  });
  app.onError((e, c) => errorResponse(c, mapError(e)));
  return { app, spec };
}

const ID = "7b0898b3-86a7-4b6a-93b1-2f0f3f3f1f1f";

Deno.test("errors: malformed JSON is 400 MALFORMED_JSON", async () => {
  const { app } = tinyApp();
  const res = await app.request(`/things/${ID}`, { method: "POST", body: "{nope" });
  assertEquals(res.status, 400);
  assertEquals((await res.json()).error.code, "MALFORMED_JSON");
});

Deno.test("errors: zod failures are 400 VALIDATION_FAILED with field paths", async () => {
  const { app } = tinyApp();
  const res = await app.request(`/things/${ID}`, {
    method: "POST",
    body: JSON.stringify({ name: "", qty: "x" }),
  });
  assertEquals(res.status, 400);
  const body = await res.json();
  assertEquals(body.error.code, "VALIDATION_FAILED");
  const paths = body.error.details.issues.map((i: { path: string }) => i.path).sort();
  assertEquals(paths, ["name", "qty"]);
  assert(body.error.message.startsWith("Invalid request body: "));

  const badParam = await app.request("/things/not-a-uuid", {
    method: "POST",
    body: JSON.stringify({ name: "a", qty: "1" }),
  });
  assertEquals(badParam.status, 400);
  assertEquals((await badParam.json()).error.details.issues[0].path, "id");

  const badQuery = await app.request(`/things/${ID}?dry=maybe`, {
    method: "POST",
    body: JSON.stringify({ name: "a", qty: "1" }),
  });
  assertEquals((await badQuery.json()).error.details.issues[0].path, "dry");

  const noBody = await app.request(`/things/${ID}`, { method: "POST" });
  assertEquals(noBody.status, 400);
  assertEquals((await noBody.json()).error.code, "VALIDATION_FAILED");
});

Deno.test("errors: thrown ApiErrors keep their status and code; unknown errors hide internals", async () => {
  const { app } = tinyApp();
  const c = await app.request("/conflict");
  assertEquals(c.status, 409);
  assertEquals(await c.json(), {
    error: { code: "BOT_RUNNING", message: 'Cannot delete bot "b1": it is running' },
  });
  const boom = await app.request("/boom");
  assertEquals(boom.status, 500);
  const body = await boom.json();
  assertEquals(body.error.code, "INTERNAL_ERROR");
  assert(!JSON.stringify(body).includes("secret internals"));
});

Deno.test("errors: database connection failures are 503 DATABASE_UNAVAILABLE", () => {
  const e = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
  const m = mapError(e);
  assertEquals([m.status, m.code], [503, "DATABASE_UNAVAILABLE"]);
});

Deno.test({
  name: "errors: unknown routes are 404 in the standard shape; OpenAPI lists routes",
  ...DB_TEST,
}, async () => {
  const t = await createTestApp();
  try {
    const res = await t.app.request("/api/v2/nothing");
    assertEquals(res.status, 404);
    assertEquals(await res.json(), {
      error: { code: "NOT_FOUND", message: "No route for GET /api/v2/nothing" },
    });
    const authed = await t.as("hank", "/api/v1/nothing-here");
    assertEquals(authed.status, 404);
    const doc = await (await t.app.request("/openapi.json")).json();
    assertEquals(doc.openapi, "3.1.0");
    assert(doc.paths["/api/v1/me"].get, "documents /api/v1/me");
    assertEquals(doc.paths["/health"].get.security, []);
    assertEquals(doc.components.schemas.Error.type, "object");
    const docs = await t.app.request("/docs");
    assertEquals(docs.status, 200);
    assert((await docs.text()).includes("/openapi.json"));
  } finally {
    await t.close();
  }
});

Deno.test("openapi: documents params, query, body and responses from the zod schemas", () => {
  const { spec } = tinyApp();
  // deno-lint-ignore no-explicit-any
  const doc = spec.document({ title: "t", version: "1" }) as any;
  const op = doc.paths["/things/{id}"].post;
  assertEquals(op.parameters.map((p: { name: string; in: string }) => `${p.in}:${p.name}`), [
    "path:id",
    "query:dry",
  ]);
  assertEquals(op.requestBody.content["application/json"].schema.required, ["name", "qty"]);
  assertEquals(Object.keys(op.responses).sort(), ["200", "400", "401"]);
});
