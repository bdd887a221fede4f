import { assert, assertEquals, assertNotEquals, assertThrows } from "../../_assert.ts";
import {
  assetId,
  buildUniverse,
  DEFAULT_UNIVERSE,
  generatedSpec,
  toAlpacaAsset,
  UniverseError,
  validateSpec,
} from "../../../brokers/paper/universe.ts";

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("universe: the default universe", () => {
  const symbols = DEFAULT_UNIVERSE.map((s) => s.symbol);
  assertEquals(symbols.length, 21);
  assertEquals([...symbols].sort(), symbols);
  for (const s of ["AAPL", "MSFT", "NVDA", "SPY", "GME", "BAC", "V"]) assert(symbols.includes(s));
  assertEquals(new Set(DEFAULT_UNIVERSE.map((s) => s.id)).size, 21);
  for (const spec of DEFAULT_UNIVERSE) {
    assert(UUID_V4.test(spec.id), spec.id);
    assert(["NASDAQ", "NYSE", "ARCA"].includes(spec.exchange));
    validateSpec(spec);
    assert(spec.tradable && spec.marginable && spec.shortable);
  }
  const gme = DEFAULT_UNIVERSE.find((s) => s.symbol === "GME")!;
  assertEquals([gme.fractionable, gme.easyToBorrow], [false, false]);
  assertEquals(DEFAULT_UNIVERSE.filter((s) => !s.fractionable).map((s) => s.symbol), ["GME"]);
  assertEquals(DEFAULT_UNIVERSE.find((s) => s.symbol === "SPY")!.exchange, "ARCA");
});

Deno.test("universe: asset ids are stable UUID v4 strings", () => {
  assertEquals(assetId("AAPL"), assetId("AAPL"));
  assertEquals(assetId("AAPL"), "16f9744d-e6d2-43e1-8fb4-b769f38a3bc8");
  assertNotEquals(assetId("AAPL"), assetId("AAPM"));
  for (const s of ["A", "BRK.B", "ZZZZZZZZZZ"]) assert(UUID_V4.test(assetId(s)), assetId(s));
});

Deno.test("universe: buildUniverse keeps order, generates unknown symbols, applies overrides", () => {
  const universe = buildUniverse(["SPY", "ZZTOP", "AAPL"], {
    overrides: { AAPL: { fractionable: false, basePrice: 100 } },
  });
  assertEquals(universe.map((s) => s.symbol), ["SPY", "ZZTOP", "AAPL"]);
  assertEquals(universe[0], DEFAULT_UNIVERSE.find((s) => s.symbol === "SPY"));
  assertEquals(universe[1], generatedSpec("ZZTOP"));
  assertEquals(universe[2]!.fractionable, false);
  assertEquals(universe[2]!.basePrice, 100);
  assertEquals(universe[2]!.id, assetId("AAPL"));
  const z = universe[1]!;
  assert(z.basePrice >= 10 && z.basePrice <= 300, `${z.basePrice}`);
  assert(z.volatility >= 0.2 && z.volatility <= 0.6);
  assert(z.dailyVolume >= 1e6 && z.dailyVolume <= 2e7);
  assertEquals(z.name, "ZZTOP (simulated)");
  assertEquals(generatedSpec("ZZTOP"), z);
});

Deno.test("universe: errors name the value", () => {
  const e = assertThrows(() => buildUniverse(["aapl"]), UniverseError);
  assert(e.message.startsWith('Invalid symbol "aapl"'), e.message);
  assertThrows(() => buildUniverse(["KO", "KO"]), UniverseError, 'Duplicate symbol "KO"');
  assertThrows(
    () => buildUniverse(["KO"], { overrides: { PEP: {} } }),
    UniverseError,
    'Cannot override "PEP"',
  );
  assertThrows(
    () => buildUniverse(["KO"], { overrides: { KO: { basePrice: -1 } } }),
    UniverseError,
    'Invalid basePrice "-1" for "KO"',
  );
  assertThrows(
    () => buildUniverse(["KO"], { overrides: { KO: { volatility: 0 } } }),
    UniverseError,
    'volatility "0"',
  );
  assertThrows(
    () => buildUniverse(["KO"], { overrides: { KO: { dailyVolume: 1e10 } } }),
    UniverseError,
    "price × volume",
  );
});

Deno.test("universe: toAlpacaAsset renders Alpaca's asset shape", () => {
  const gme = DEFAULT_UNIVERSE.find((s) => s.symbol === "GME")!;
  assertEquals(toAlpacaAsset(gme), {
    id: gme.id,
    class: "us_equity",
    exchange: "NYSE",
    symbol: "GME",
    name: "GameStop Corp. Class A",
    status: "active",
    tradable: true,
    marginable: true,
    shortable: true,
    easy_to_borrow: false,
    borrow_status: "hard_to_borrow",
    fractionable: false,
    maintenance_margin_requirement: 30,
    margin_requirement_long: "30",
    margin_requirement_short: "100",
    attributes: [],
  });
  const aapl = toAlpacaAsset(DEFAULT_UNIVERSE[0]!);
  assertEquals([aapl.symbol, aapl.borrow_status, aapl.attributes], [
    "AAPL",
    "easy_to_borrow",
    ["fractional_eh_enabled"],
  ]);
});
