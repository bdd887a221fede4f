import { assert, assertEquals } from "./_assert.ts";
import { configureLogging, logger, redact, redactText } from "../logging.ts";

Deno.test("logging: secrets are redacted from fields, strings and messages", async () => {
  const lines: string[] = [];
  await configureLogging({ level: "info", format: "json", write: (l) => lines.push(l) });
  try {
    const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
    logger("test").info("Request {path} from {who}", {
      path: `/api/v1/stream?token=${jwt}&symbols=AAPL`,
      who: "alice",
      authorization: `Bearer ${jwt}`,
      nested: { password: "hunter2", url: "postgres://owner:s3cret@db:5432/tw", apiKey: "k" },
    });
    assertEquals(lines.length, 1);
    const line = lines[0]!;
    for (const secret of [jwt, "hunter2", "s3cret", "signature"]) {
      assert(!line.includes(secret), `${secret} leaked: ${line}`);
    }
    const rec = JSON.parse(line);
    assertEquals(rec.message, "Request /api/v1/stream?token=[REDACTED]&symbols=AAPL from alice");
    assertEquals(rec.properties.authorization, "[REDACTED]");
    assertEquals(rec.properties.nested.url, "postgres://owner:[REDACTED]@db:5432/tw");
  } finally {
    await configureLogging({ level: "fatal", format: "json", write: () => {} });
  }
});

Deno.test("logging: redact leaves ordinary values alone", () => {
  assertEquals(redact({ symbol: "AAPL", qty: "10", side: "buy" }), {
    symbol: "AAPL",
    qty: "10",
    side: "buy",
  });
  assertEquals(redactText("plain text"), "plain text");
});
