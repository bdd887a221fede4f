/**
 * What a symbol actor sends its bots: a closed bar and its timeframe's indicators. Its own module
 * so a bot Worker reads the type without loading the symbol actor (and its indicator factory).
 *
 * @module
 */

import type { Bar, Timeframe } from "../../core/market.ts";
import type { IndicatorSnapshot } from "../../strategies/indicator_keys.ts";

/** A closed bar with the indicators of its timeframe after it. Plain data. */
export interface BarUpdate {
  symbol: string;
  timeframe: Timeframe;
  bar: Bar;
  indicators: IndicatorSnapshot;
}
