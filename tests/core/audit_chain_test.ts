import { assertEquals, assertThrows } from "../_assert.ts";
import {
  auditHashText,
  auditRowHash,
  CheckpointError,
  makeCheckpoint,
  parseCheckpoints,
  pgJsonString,
} from "../../core/audit_chain.ts";

const HASH = "a".repeat(64);
const ALICE = "6862320e-438b-456d-9e92-6c7a75987d11";

Deno.test("strings are escaped as PostgreSQL's escape_json does", () => {
  assertEquals(pgJsonString('a"b\\c'), '"a\\"b\\\\c"');
  assertEquals(pgJsonString("\b\f\n\r\t"), '"\\b\\f\\n\\r\\t"');
  assertEquals(pgJsonString("\u0001\u001f\u007f"), '"\\u0001\\u001f\u007f"');
  assertEquals(pgJsonString("é 😀 /"), '"é 😀 /"');
});

Deno.test("the hashed text is jsonb_build_array's, and its SHA-256 is the row's hash", async () => {
  const row = {
    seq: "18",
    tsMicros: 1765002020103607n,
    userId: ALICE,
    orderId: null,
    botId: null,
    clientOrderId: "c-1",
    action: "FILLED",
    status: "filled",
    reason: null,
    payload: '{"qty": "1", "price": "230.01"}',
    correlationId: null,
    causationId: null,
    prevHash: "0".repeat(64),
  };
  assertEquals(
    auditHashText(row),
    `[18, 1765002020103607, "${ALICE}", null, null, "c-1", "FILLED", "filled", null, ` +
      `{"qty": "1", "price": "230.01"}, null, null, "${"0".repeat(64)}"]`,
  );
  // SHA-256 of that text's UTF-8 bytes, in lowercase hex (WebCrypto as a second opinion).
  const digest = await crypto.subtle.digest(
    "SHA-256",
    new TextEncoder().encode(auditHashText(row)),
  );
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  assertEquals(auditRowHash(row), hex);
  assertThrows(() => auditHashText({ ...row, seq: "1; drop" }), RangeError);
});

Deno.test("checkpoints read back from the JSON document, JSON log lines and text log lines", () => {
  const cp = makeCheckpoint(Date.parse("2026-12-06T02:00:00Z"), [
    { chain: ALICE, username: "alice", seq: "18", hash: HASH },
    { chain: "system", username: null, seq: "3", hash: HASH },
  ]);
  assertEquals(cp.chains.map((c) => c.chain), ["system", ALICE]);
  assertEquals(parseCheckpoints(JSON.stringify(cp, null, 2)), [cp]);
  const json = JSON.stringify({ level: "INFO", properties: { checkpoint: cp } });
  const text = `2026-12-06 02:00:00.000 +00:00 [INF] tradewind·audit: Audit checkpoint ${
    JSON.stringify(cp)
  }`;
  assertEquals(
    parseCheckpoints(`{"level":"INFO","message":"listening"}\nnot json {\n${json}\n${text}\n`),
    [cp, cp],
  );
});

Deno.test("a malformed checkpoint is refused with a message naming the field", () => {
  const bad = (chains: unknown[]) =>
    JSON.stringify({ kind: "tradewind.audit.checkpoint", version: 1, taken_at: "x", chains });
  const cases: [string, string][] = [
    ["", 'Cannot read "file": no audit checkpoint in it'],
    ['{"level":"INFO"}', "no audit checkpoint"],
    [bad([{ chain: "bob", seq: "1", hash: HASH }]), 'chains[0].chain "bob" is not "system"'],
    [bad([{ chain: ALICE, seq: "-1", hash: HASH }]), 'chains[0].seq "-1" is not a sequence'],
    [bad([{ chain: ALICE, seq: "1", hash: "ABC" }]), 'chains[0].hash "ABC" is not a SHA-256'],
    [
      JSON.stringify({ kind: "tradewind.audit.checkpoint", version: 2, chains: [] }),
      'version "2" is unknown',
    ],
    [JSON.stringify({ kind: "tradewind.audit.checkpoint", version: 1 }), '"chains" must be'],
  ];
  for (const [input, message] of cases) {
    assertThrows(() => parseCheckpoints(input), CheckpointError, message);
  }
});
