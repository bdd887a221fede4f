/**
 * What the Alpaca-compatible face is built from, in its own module so that the face's route
 * modules import it without importing the face that mounts them (routes/alpaca/mod.ts).
 *
 * @module
 */
import type { Sql } from "postgres";
import type { StreamHub } from "../../actors/stream_hub.ts";
import type { TradingDeps } from "../app.ts";

/** What the face needs: the ledger, the trading stack and, for the streams, the hub. */
export interface AlpacaFaceDeps {
  sql: Sql;
  trading: TradingDeps;
  stream?: StreamHub;
}
