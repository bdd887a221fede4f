import { assertEquals } from "../_assert.ts";
import { boundedEcho, cutText, decimalTextIssue, nulIssues } from "../../core/input.ts";

Deno.test("nulIssues: names every string, key or value, at any depth, that holds a NUL", () => {
  assertEquals(nulIssues({ a: "ok", b: ["x", "y\u0000"], c: { "k\u0000": 1 } }), [
    { path: "b.1", message: "Must not contain control characters: found U+0000 at position 2" },
    {
      path: "c.k\\u0000",
      message: "Key must not contain control characters: found U+0000 at position 2",
    },
  ]);
  assertEquals(nulIssues("\u0000"), [
    { path: "(root)", message: "Must not contain control characters: found U+0000 at position 1" },
  ]);
  assertEquals(nulIssues({ a: 1, b: null, c: "tab\tok" }), []);
  assertEquals(nulIssues(Array.from({ length: 50 }, () => "\u0000")).length, 10);
});

Deno.test("decimalTextIssue: at most 32 characters of text, or digits of a number", () => {
  assertEquals(decimalTextIssue("1".repeat(32)), null);
  assertEquals(decimalTextIssue("1".repeat(33)), "Must be at most 32 characters, got 33");
  assertEquals(decimalTextIssue(123.25), null);
  assertEquals(decimalTextIssue(1e30), null);
  assertEquals(decimalTextIssue(1e300), "Must be at most 32 digits, got a number of about 1e300");
});

Deno.test("boundedEcho: long strings, long lists and deep nesting are cut with a note", () => {
  assertEquals(boundedEcho({ qty: "1", n: 2, ok: true, none: null }), {
    qty: "1",
    n: 2,
    ok: true,
    none: null,
  });
  assertEquals(boundedEcho("x".repeat(200)), `${"x".repeat(128)}… (200 characters)`);
  assertEquals(cutText("abcdef", 6), "abcdef");
  assertEquals(cutText("abcdefg", 6), "abcdef… (7 characters)");
  const list = boundedEcho(Array.from({ length: 25 }, (_, i) => i)) as unknown[];
  assertEquals(list.length, 21);
  assertEquals(list[20], "… (25 items)");
  assertEquals(boundedEcho({ a: { b: { c: { d: { e: 1 } } } } }), {
    a: { b: { c: { d: "{…}" } } },
  });
});
