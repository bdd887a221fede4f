/**
 * A replace (PATCH) seen as what it is: a new order for the part of the old one still to fill.
 * The execution engine runs validation and risk on {@link replacementRequest} exactly as on a
 * new order, after taking the replaced order's own exposure ({@link openRequest}) out of the
 * figures, since the replacement takes its place rather than adding to it.
 *
 * @module
 */

import type { Order, OrderRequest, ReplaceRequest } from "./order.ts";

/**
 * The request the replacement places: the old order with the PATCH fields applied, for the qty
 * still to fill (`qty` of a replace is the chain total, fills included). A bracket, oco or oto
 * member is judged as a simple order of its own type and prices. Never throws; call
 * `validateReplace` first for the order's state and the fields' shape.
 */
export function replacementRequest(order: Order, request: ReplaceRequest): OrderRequest {
  const total = request.qty ?? order.qty;
  const out: OrderRequest = {
    symbol: order.symbol,
    side: order.side,
    type: order.type,
    time_in_force: request.time_in_force ?? order.time_in_force,
    order_class: "",
    extended_hours: order.extended_hours,
  };
  if (total !== null) out.qty = total.sub(order.filled_qty);
  if (order.notional !== null && total === null) out.notional = order.notional;
  const limit = request.limit_price ?? order.limit_price;
  if (limit !== null) out.limit_price = limit;
  const stop = request.stop_price ?? order.stop_price;
  if (stop !== null && order.type !== "trailing_stop") out.stop_price = stop;
  if (order.trail_percent !== null) out.trail_percent = request.trail ?? order.trail_percent;
  else if (order.trail_price !== null) out.trail_price = request.trail ?? order.trail_price;
  if (order.position_intent !== null) out.position_intent = order.position_intent;
  if (request.client_order_id !== undefined) out.client_order_id = request.client_order_id;
  return out;
}

/** What an open order still asks for: its own type and prices, for the qty left to fill. */
export function openRequest(order: Order): OrderRequest {
  return replacementRequest(order, {});
}
