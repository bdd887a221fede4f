/**
 * The paper venue's universe: which symbols exist, their Alpaca-style asset attributes, and the
 * parameters the simulated market ({@link ./market_model.ts}) draws their prices from.
 *
 * {@link DEFAULT_UNIVERSE} holds 21 well-known US symbols with plausible 2025-era figures. GME is
 * deliberately neither fractionable nor easy to borrow, so order rejections can be exercised.
 * {@link buildUniverse} makes a universe from any list of symbols; unknown ones get defaults
 * derived from a hash of the symbol, so they are the same on every run. Asset ids are UUID v4
 * strings derived from the symbol, stable across runs and machines.
 *
 * @example
 * ```ts
 * const universe = buildUniverse(["AAPL", "SPY", "ZZZT"]); // ZZZT gets generated defaults
 * toAlpacaAsset(universe[0]!).fractionable; // true
 * ```
 *
 * @module
 */

import { hashString } from "../../core/random.ts";
import type { Asset } from "../../core/market.ts";

/** Listing exchanges the paper venue knows (Alpaca's `exchange` values). */
export type ListingExchange = "NASDAQ" | "NYSE" | "ARCA";

/** One symbol of the paper universe: asset attributes plus the market model's parameters. */
export interface SymbolSpec {
  /** Ticker, upper case, e.g. `"AAPL"` or `"BRK.B"`. */
  readonly symbol: string;
  /** Deterministic UUID v4 derived from the symbol ({@link assetId}). */
  readonly id: string;
  /** Company or fund name. */
  readonly name: string;
  /** Listing exchange; it also picks the SIP tape (NYSE `A`, ARCA `B`, NASDAQ `C`). */
  readonly exchange: ListingExchange;
  /** GICS-like sector name, or `"ETF"`. */
  readonly sector: string;
  /** Price in USD on the model's reference day (2020-01-01); the walk starts there. */
  readonly basePrice: number;
  /** Annualised volatility of log returns, e.g. `0.3` for 30 %. */
  readonly volatility: number;
  /** Typical quoted spread in USD at the base price (it scales with the price). */
  readonly spread: number;
  /** Typical core-session volume in shares per day. */
  readonly dailyVolume: number;
  /** Whether fractional quantities may be ordered. */
  readonly fractionable: boolean;
  /** Whether the asset may be sold short. */
  readonly shortable: boolean;
  /** Whether the asset is easy to borrow (false means hard to borrow). */
  readonly easyToBorrow: boolean;
  /** Whether the asset counts for margin. */
  readonly marginable: boolean;
  /** Whether the asset may be traded at all. */
  readonly tradable: boolean;
}

/** The asset object as Alpaca's `GET /v2/assets` renders it (ALPACA.md §2.5). */
export interface AlpacaAsset {
  id: string;
  class: "us_equity";
  exchange: ListingExchange;
  symbol: string;
  name: string;
  status: "active" | "inactive";
  tradable: boolean;
  marginable: boolean;
  shortable: boolean;
  easy_to_borrow: boolean;
  borrow_status: "easy_to_borrow" | "hard_to_borrow";
  fractionable: boolean;
  maintenance_margin_requirement: number;
  margin_requirement_long: string;
  margin_requirement_short: string;
  attributes: string[];
}

/** Thrown when a symbol or a symbol's parameters are not acceptable. */
export class UniverseError extends Error {
  override name = "UniverseError";
}

/** Symbols: an upper-case letter, then up to nine upper-case letters, digits or dots. */
export const SYMBOL_PATTERN: RegExp = /^[A-Z][A-Z0-9.]{0,9}$/;

/**
 * Largest accepted `basePrice × dailyVolume` in USD. It keeps a day's sum of price × size, kept
 * in units of $0.0001, well inside 2^53 even after the price walk and busy days.
 */
export const MAX_DAILY_NOTIONAL = 1e11;

type Row = readonly [
  symbol: string,
  name: string,
  exchange: ListingExchange,
  sector: string,
  basePrice: number,
  volatility: number,
  spread: number,
  dailyVolume: number,
];

const ROWS: readonly Row[] = [
  ["AAPL", "Apple Inc.", "NASDAQ", "Information Technology", 230, 0.28, 0.01, 50e6],
  ["MSFT", "Microsoft Corporation", "NASDAQ", "Information Technology", 420, 0.25, 0.02, 20e6],
  ["NVDA", "NVIDIA Corporation", "NASDAQ", "Information Technology", 140, 0.5, 0.01, 200e6],
  ["AMZN", "Amazon.com, Inc.", "NASDAQ", "Consumer Discretionary", 200, 0.32, 0.01, 40e6],
  ["GOOGL", "Alphabet Inc. Class A", "NASDAQ", "Communication Services", 170, 0.3, 0.01, 25e6],
  ["META", "Meta Platforms, Inc.", "NASDAQ", "Communication Services", 580, 0.38, 0.05, 12e6],
  ["TSLA", "Tesla, Inc.", "NASDAQ", "Consumer Discretionary", 250, 0.6, 0.03, 90e6],
  ["JPM", "JPMorgan Chase & Co.", "NYSE", "Financials", 220, 0.22, 0.02, 9e6],
  ["V", "Visa Inc. Class A", "NYSE", "Financials", 290, 0.2, 0.02, 6e6],
  ["JNJ", "Johnson & Johnson", "NYSE", "Health Care", 155, 0.16, 0.01, 7e6],
  ["WMT", "Walmart Inc.", "NYSE", "Consumer Staples", 85, 0.18, 0.01, 15e6],
  ["XOM", "Exxon Mobil Corporation", "NYSE", "Energy", 115, 0.24, 0.01, 15e6],
  ["KO", "The Coca-Cola Company", "NYSE", "Consumer Staples", 65, 0.15, 0.01, 13e6],
  ["PEP", "PepsiCo, Inc.", "NASDAQ", "Consumer Staples", 160, 0.17, 0.01, 6e6],
  ["DIS", "The Walt Disney Company", "NYSE", "Communication Services", 100, 0.28, 0.01, 9e6],
  ["NFLX", "Netflix, Inc.", "NASDAQ", "Communication Services", 700, 0.4, 0.1, 3e6],
  ["AMD", "Advanced Micro Devices, Inc.", "NASDAQ", "Information Technology", 150, 0.5, 0.01, 40e6],
  ["INTC", "Intel Corporation", "NASDAQ", "Information Technology", 22, 0.45, 0.01, 60e6],
  ["BAC", "Bank of America Corporation", "NYSE", "Financials", 42, 0.25, 0.01, 35e6],
  ["SPY", "SPDR S&P 500 ETF Trust", "ARCA", "ETF", 580, 0.15, 0.01, 50e6],
  ["GME", "GameStop Corp. Class A", "NYSE", "Consumer Discretionary", 25, 0.8, 0.02, 8e6],
];

/** Symbols that are hard to borrow and not fractionable, to exercise rejections. */
const RESTRICTED = new Set(["GME"]);

/**
 * The default paper universe, sorted by symbol. Every entry is tradable, marginable and
 * shortable; GME is not fractionable and is hard to borrow.
 */
export const DEFAULT_UNIVERSE: readonly SymbolSpec[] = Object.freeze(
  ROWS.map(([symbol, name, exchange, sector, basePrice, volatility, spread, dailyVolume]) =>
    Object.freeze({
      symbol,
      id: assetId(symbol),
      name,
      exchange,
      sector,
      basePrice,
      volatility,
      spread,
      dailyVolume,
      fractionable: !RESTRICTED.has(symbol),
      shortable: true,
      easyToBorrow: !RESTRICTED.has(symbol),
      marginable: true,
      tradable: true,
    })
  ).sort((a, b) => (a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0)),
);

const DEFAULTS_BY_SYMBOL = new Map(DEFAULT_UNIVERSE.map((s) => [s.symbol, s]));

/**
 * The deterministic asset id of a symbol: a UUID v4 built from four 32-bit hashes of the symbol,
 * with the version and variant bits set. Never throws.
 *
 * @example
 * ```ts
 * assetId("AAPL") === assetId("AAPL"); // true, on every run and machine
 * ```
 */
export function assetId(symbol: string): string {
  let hex = "";
  for (let i = 0; i < 4; i++) {
    hex += hashString(symbol, 0x7a11 + i).toString(16).padStart(8, "0");
  }
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${
    hex.slice(17, 20)
  }-${hex.slice(20, 32)}`;
}

/**
 * Generated defaults for a symbol outside {@link DEFAULT_UNIVERSE}: a base price between $10 and
 * $300, volatility 20–60 %, 1–20 M shares a day, listed on NASDAQ or NYSE, every flag true. The
 * same symbol always gets the same figures.
 *
 * @throws {UniverseError} if the symbol does not match {@link SYMBOL_PATTERN}.
 */
export function generatedSpec(symbol: string): SymbolSpec {
  checkSymbol(symbol);
  const u = (salt: number) => hashString(symbol, 0x9e9 + salt) / 4294967296;
  const basePrice = Math.round(10 * Math.pow(30, u(1)) * 100) / 100;
  return {
    symbol,
    id: assetId(symbol),
    name: `${symbol} (simulated)`,
    exchange: u(2) < 0.5 ? "NASDAQ" : "NYSE",
    sector: "Unclassified",
    basePrice,
    volatility: Math.round((0.2 + 0.4 * u(3)) * 100) / 100,
    spread: Math.max(0.01, Math.round(basePrice * 0.0003 * 100) / 100),
    dailyVolume: Math.round(1e6 * Math.pow(20, u(4)) / 100) * 100,
    fractionable: true,
    shortable: true,
    easyToBorrow: true,
    marginable: true,
    tradable: true,
  };
}

/** Options of {@link buildUniverse}. */
export interface BuildUniverseOptions {
  /**
   * Per-symbol replacements applied on top of the default or generated spec (the `symbol` and
   * `id` cannot be overridden).
   */
  overrides?: Readonly<Record<string, Partial<Omit<SymbolSpec, "symbol" | "id">>>>;
}

/**
 * A universe for the given symbols, in the order given: known symbols take their
 * {@link DEFAULT_UNIVERSE} entry, unknown ones {@link generatedSpec}, then `overrides` apply.
 *
 * @throws {UniverseError} on an invalid or duplicate symbol, an override for a symbol not in the
 * list, or parameters that fail {@link validateSpec}.
 */
export function buildUniverse(
  symbols: readonly string[],
  options: BuildUniverseOptions = {},
): SymbolSpec[] {
  const seen = new Set<string>();
  const overrides = options.overrides ?? {};
  for (const symbol of Object.keys(overrides)) {
    if (!symbols.includes(symbol)) {
      throw new UniverseError(`Cannot override "${symbol}": it is not in the symbol list`);
    }
  }
  return symbols.map((symbol) => {
    checkSymbol(symbol);
    if (seen.has(symbol)) throw new UniverseError(`Duplicate symbol "${symbol}"`);
    seen.add(symbol);
    const base = DEFAULTS_BY_SYMBOL.get(symbol) ?? generatedSpec(symbol);
    const spec: SymbolSpec = { ...base, ...overrides[symbol], symbol, id: base.id };
    validateSpec(spec);
    return spec;
  });
}

/**
 * Checks a spec's model parameters: positive finite price, spread and volume, volatility in
 * (0, 5], and `basePrice × dailyVolume` at most {@link MAX_DAILY_NOTIONAL}.
 *
 * @throws {UniverseError} naming the first bad field and its value.
 */
export function validateSpec(spec: SymbolSpec): void {
  checkSymbol(spec.symbol);
  const bad = (field: string, value: unknown, why: string) =>
    new UniverseError(`Invalid ${field} "${value}" for "${spec.symbol}": ${why}`);
  if (!(Number.isFinite(spec.basePrice) && spec.basePrice >= 0.0001)) {
    throw bad("basePrice", spec.basePrice, "must be at least 0.0001");
  }
  if (!(spec.volatility > 0 && spec.volatility <= 5)) {
    throw bad("volatility", spec.volatility, "must be in (0, 5]");
  }
  if (!(Number.isFinite(spec.spread) && spec.spread > 0)) {
    throw bad("spread", spec.spread, "must be positive");
  }
  if (!(Number.isFinite(spec.dailyVolume) && spec.dailyVolume >= 1)) {
    throw bad("dailyVolume", spec.dailyVolume, "must be at least 1");
  }
  if (spec.basePrice * spec.dailyVolume > MAX_DAILY_NOTIONAL) {
    throw bad("dailyVolume", spec.dailyVolume, `price × volume exceeds ${MAX_DAILY_NOTIONAL}`);
  }
}

/**
 * The Alpaca asset object for a spec (`status` active; margin requirements 30 %, or 100 % short
 * when hard to borrow). Never throws.
 */
export function toAlpacaAsset(spec: SymbolSpec): AlpacaAsset {
  return {
    id: spec.id,
    class: "us_equity",
    exchange: spec.exchange,
    symbol: spec.symbol,
    name: spec.name,
    status: "active",
    tradable: spec.tradable,
    marginable: spec.marginable,
    shortable: spec.shortable,
    easy_to_borrow: spec.easyToBorrow,
    borrow_status: spec.easyToBorrow ? "easy_to_borrow" : "hard_to_borrow",
    fractionable: spec.fractionable,
    maintenance_margin_requirement: 30,
    margin_requirement_long: "30",
    margin_requirement_short: spec.easyToBorrow ? "30" : "100",
    attributes: spec.fractionable ? ["fractional_eh_enabled"] : [],
  };
}

function checkSymbol(symbol: string): void {
  if (!SYMBOL_PATTERN.test(symbol)) {
    throw new UniverseError(
      `Invalid symbol "${symbol}": use an upper-case letter, then up to 9 letters, digits or dots`,
    );
  }
}

/** The asset as Tradewind's ports describe it: Alpaca's fields plus the sector. */
export function toAsset(spec: SymbolSpec): Asset {
  const a = toAlpacaAsset(spec);
  return {
    id: a.id,
    class: "us_equity",
    exchange: a.exchange,
    symbol: a.symbol,
    name: a.name,
    status: a.status,
    tradable: a.tradable,
    marginable: a.marginable,
    shortable: a.shortable,
    easy_to_borrow: a.easy_to_borrow,
    fractionable: a.fractionable,
    sector: spec.sector,
    attributes: a.attributes,
  };
}
