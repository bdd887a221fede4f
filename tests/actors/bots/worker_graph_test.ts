/**
 * What a bot Worker loads: the module graph of the bot behaviour holds no zod (each Worker would
 * pay ~5 MB for it), and its logic-only strategies are the registry's built-ins.
 *
 * @module
 */
import { assert, assertEquals } from "../../_assert.ts";
import { BOT_BEHAVIOUR_REF } from "../../../actors/bots/manager.ts";
import { BUILTIN_LOGIC } from "../../../strategies/builtin_logic.ts";
import { BUILTIN_STRATEGIES } from "../../../strategies/registry.ts";

Deno.test("bot Worker: the bot behaviour's module graph has no zod", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", BOT_BEHAVIOUR_REF.url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert(out.success, new TextDecoder().decode(out.stderr));
  const info = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: { specifier: string }[];
  };
  const specifiers = info.modules.map((m) => m.specifier);
  assert(specifiers.some((s) => s.endsWith("/actors/bots/bot_behaviour.ts")));
  const zod = specifiers.filter((s) => s.includes("zod"));
  assertEquals(zod, [], `zod in the bot Worker graph: ${zod.join(", ")}`);
});

Deno.test("bot Worker: the built-in logic is the built-in definitions' logic", () => {
  assertEquals(
    BUILTIN_LOGIC.map((l) => l.name),
    BUILTIN_STRATEGIES.map((d) => d.name),
  );
  BUILTIN_LOGIC.forEach((logic, i) => {
    const def = BUILTIN_STRATEGIES[i]!;
    assert(def.onBar === logic.onBar, `"${def.name}": onBar differs from its logic`);
    assert(def.onOrderFilled === logic.onOrderFilled, `"${def.name}": onOrderFilled differs`);
    assert(def.indicators === logic.indicators, `"${def.name}": indicators differ`);
    assert(def.initialState === logic.initialState, `"${def.name}": initialState differs`);
  });
});
