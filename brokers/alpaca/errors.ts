/**
 * What goes wrong talking to Alpaca, in the two kinds the engine acts on:
 *
 * - a {@link TradeError}: Alpaca answered and refused (4xx). Definite: nothing was placed or
 *   changed. Alpaca's code, text and extra keys are kept (core/errors.ts
 *   `tradeErrorFromAlpaca`); a 404 takes the code of the route (`ORDER_NOT_FOUND`,
 *   `POSITION_NOT_FOUND`, `ASSET_NOT_FOUND`); a 429 is `RATE_LIMITED`; a 401 (the engine's
 *   own key refused) is `VENUE_UNAVAILABLE` with a message that names the variables to fix.
 * - a {@link BrokerUnavailableError}: no answer (network error, timeout), a 5xx, or a body
 *   that is not Alpaca's shape. Ambiguous for a write: brokers/resilient.ts turns it into
 *   `AmbiguousSubmitError` on submit, which the engine resolves by client order id.
 *
 * @module
 */
import { errors as sdkErrors } from "@alpacahq/alpaca-trade-api";
import { TradeError, type TradeErrorCode, tradeErrorFromAlpaca } from "../../core/errors.ts";
import { BrokerUnavailableError } from "../resilient.ts";
import { AlpacaShapeError } from "./rest_json.ts";

/** Which code a 404 of a route means. */
export type NotFoundCode = "ORDER_NOT_FOUND" | "POSITION_NOT_FOUND" | "ASSET_NOT_FOUND";

async function bodyOf(response: Response | undefined): Promise<unknown> {
  if (!response) return null;
  try {
    const text = await response.clone().text();
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  } catch {
    return null;
  }
}

/**
 * An Alpaca HTTP error answer (status and body) as a {@link TradeError}, or a
 * {@link BrokerUnavailableError} for a 5xx. `what` names the action for messages. Never throws.
 */
export function fromAlpacaAnswer(
  status: number,
  body: unknown,
  what: string,
  notFound: NotFoundCode = "ORDER_NOT_FOUND",
): TradeError | BrokerUnavailableError {
  const mapped = tradeErrorFromAlpaca(status, body);
  const message = mapped.alpacaMessage;
  if (status >= 500 || status === 408) {
    return new BrokerUnavailableError(
      `Alpaca failed on ${what} with HTTP ${status}: "${message}"`,
      { http_status: status, alpaca_code: mapped.alpacaCode },
    );
  }
  let code: TradeErrorCode = mapped.code;
  let text = `Alpaca refused ${what} with HTTP ${status}: "${message}"`;
  if (status === 404) code = notFound;
  // Any other 4xx is still a refusal: nothing was done.
  if (code === "VENUE_UNAVAILABLE" && status !== 401) code = "INVALID_REQUEST";
  if (status === 401) {
    code = "VENUE_UNAVAILABLE";
    text =
      `Alpaca refused the engine's API key on ${what} (HTTP 401 "${message}"): check ALPACA_KEY_ID and ALPACA_SECRET_KEY, and ALPACA_PAPER (paper keys do not work on the live API)`;
  }
  if (code === "RATE_LIMITED") {
    text =
      `Alpaca refused ${what}: rate limit reached (HTTP ${status} "${message}"); retry shortly`;
  }
  return new TradeError(code, text, {
    details: { ...mapped.details },
    alpacaCode: mapped.alpacaCode,
    alpacaMessage: mapped.alpacaMessage,
    alpacaExtra: mapped.alpacaExtra,
    cause: body,
  });
}

/**
 * Any error thrown by an SDK call (or by our parsing of its answer) as the error the engine
 * expects: {@link TradeError} for Alpaca's refusals and our budget's, else
 * {@link BrokerUnavailableError}. Never throws; answers the error to throw.
 */
export async function toVenueError(
  e: unknown,
  what: string,
  notFound: NotFoundCode = "ORDER_NOT_FOUND",
): Promise<Error> {
  // The SDK wraps what its fetch throws (the budget's refusal among them) in a FetchError.
  if (e instanceof sdkErrors.FetchError && e.cause instanceof TradeError) return e.cause;
  if (e instanceof TradeError || e instanceof BrokerUnavailableError) return e;
  if (e instanceof sdkErrors.ApiError) {
    const parsed = await bodyOf(e.response);
    const body = typeof parsed === "object" && parsed !== null
      ? parsed
      : { code: e.code, message: typeof parsed === "string" && parsed ? parsed : e.message };
    return fromAlpacaAnswer(e.status, body, what, notFound);
  }
  if (e instanceof AlpacaShapeError || e instanceof SyntaxError) {
    return new BrokerUnavailableError(
      `Alpaca answered ${what} with an unexpected body: ${e.message}`,
    );
  }
  const cause = e instanceof sdkErrors.FetchError && e.cause ? e.cause : e;
  const text = cause instanceof Error ? cause.message || cause.name : String(cause);
  return new BrokerUnavailableError(`Alpaca did not answer ${what}: ${text}`);
}
