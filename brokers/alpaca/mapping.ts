/**
 * Alpaca's Order JSON (REST answers and the `order` of a `trade_updates` event, ALPACA.md
 * §3.2) to Tradewind's {@link Order}: amounts exact decimals read from Alpaca's decimal
 * strings (numbers accepted too), timestamps epoch ms. The stream clients use only
 * {@link orderFromAlpaca} from here (`trade_update.ts` reads the event around it).
 *
 * A payload that does not read is Alpaca's (or a proxy's) fault, not the caller's: it throws
 * {@link AlpacaPayloadError}, never a client-facing 4xx.
 *
 * @module
 */
import { isTradeError } from "../../core/errors.ts";
import { parseAlpacaOrder } from "../../core/order.ts";
import type { Order } from "../../core/order_types.ts";

/** Alpaca sent something Tradewind cannot read (a malformed order or event). */
export class AlpacaPayloadError extends Error {
  override name = "AlpacaPayloadError";
  /** The offending payload, for the log (it carries no credentials). */
  readonly payload: unknown;
  constructor(message: string, payload: unknown) {
    super(message);
    this.payload = payload;
  }
}

/**
 * Reads Alpaca's Order JSON into an {@link Order}: every field of ALPACA.md §3.2, amounts as
 * decimals, RFC-3339 timestamps (nanoseconds cut to ms) as epoch ms, nested `legs` with
 * `parent_id` set to the parent's id. Missing optional keys become null; `order_class` `""`
 * stays `""`.
 *
 * @throws {AlpacaPayloadError} naming the bad fields when the JSON is not an Alpaca order.
 * @example
 * ```ts
 * const order = orderFromAlpaca(await res.json());
 * order.qty?.toString(); // "2"
 * ```
 */
export function orderFromAlpaca(json: unknown): Order {
  try {
    return parseAlpacaOrder(json);
  } catch (e) {
    if (!isTradeError(e)) throw e;
    const id = isRecord(json) && typeof json.id === "string" ? ` "${json.id}"` : "";
    throw new AlpacaPayloadError(`Cannot read Alpaca order${id}: ${e.message}`, json);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
