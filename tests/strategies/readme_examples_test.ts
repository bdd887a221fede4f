/**
 * The bot configs the READMEs show as JSON blocks validate as documented: the worked
 * `indicator_vote` example in strategies/README.md and the small one in README.md's bot section.
 */
import { assert, assertEquals } from "../_assert.ts";
import { parseBotConfig } from "../../actors/bots/bot_config.ts";
import { botIndicatorSpecs } from "../../actors/bots/bot_behaviour.ts";
import { indicatorKey } from "../../strategies/indicator_keys.ts";
import { StrategyRegistry } from "../../strategies/registry.ts";

const registry = new StrategyRegistry();

/** The ```json blocks of a Markdown file that are bot configs (have a `strategy`). */
async function botConfigs(path: string): Promise<Record<string, unknown>[]> {
  const text = await Deno.readTextFile(new URL(path, import.meta.url));
  const blocks = [...text.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1]!));
  return blocks.filter((b) => typeof b === "object" && b !== null && "strategy" in b);
}

Deno.test("readme: the worked indicator_vote config in strategies/README.md validates as described", async () => {
  const [example, ...rest] = await botConfigs("../../strategies/README.md");
  assertEquals(rest.length, 0);
  const config = parseBotConfig(example, registry);
  assertEquals(config.strategy, "indicator_vote");
  assertEquals(config.timeframe, "5Min");
  const params = config.params as { evaluators: { type: string }[]; minVotes: number };
  assertEquals(params.evaluators.map((e) => e.type), [
    "rsi",
    "macd_cross",
    "price_ma",
    "ma_cross",
    "bbands",
    "stoch",
    "obv_trend",
  ]);
  assertEquals(params.minVotes, 3);
  // The indicators the text lists, each once.
  const keys = [...new Set(botIndicatorSpecs(config, registry).map(indicatorKey))];
  assertEquals(keys.sort(), [
    "atr:14",
    "bbands:20,2",
    "ema:50",
    "macd:12,26,9",
    "obv",
    "rsi:14",
    "sma:10",
    "sma:30",
    "stoch:14,3,3",
  ]);
});

Deno.test("readme: the bot configs in README.md validate", async () => {
  const configs = await botConfigs("../../README.md");
  assert(configs.some((c) => c.strategy === "indicator_vote"));
  for (const c of configs) parseBotConfig(c, registry);
});
