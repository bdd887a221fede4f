/**
 * Errors of the Alpaca-compatible face: every failure under `/v2` leaves as Alpaca's body
 * `{"code":<8-digit int>,"message":"…"}` (with Alpaca's extra keys where it has them), with the
 * HTTP status Alpaca uses and the request's `X-Request-ID`, so the official SDK raises the same
 * error classes it raises against Alpaca (`ValidationError`, `AuthError`, `NotFoundError` …).
 *
 * Domain errors ({@link TradeError}) render through {@link TradeError.toAlpacaBody}: the same
 * status as on Tradewind's own face, Alpaca's code and text.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { type AlpacaErrorBody, type AlpacaErrorExtra, fieldIssues } from "../../core/errors.ts";
import { logger } from "../../logging.ts";
import { ApiError, isDatabaseUnavailable } from "../errors.ts";

/** An error of the `/v2` face, answered as Alpaca's `{code, message}` body. */
export class AlpacaApiError extends Error {
  override name = "AlpacaApiError";
  readonly status: ContentfulStatusCode;
  /** Alpaca's 8-digit code, e.g. 40410000. */
  readonly code: number;
  /** Extra keys of the body (`symbol`, `available` …). */
  readonly extra: AlpacaErrorExtra;
  /** Extra response headers (`Retry-After` …). */
  readonly headers: Record<string, string>;

  /**
   * @param status the HTTP status
   * @param code Alpaca's 8-digit code
   * @param message Alpaca's message text (lower case, as Alpaca writes them)
   */
  constructor(
    status: ContentfulStatusCode,
    code: number,
    message: string,
    options: { extra?: AlpacaErrorExtra; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = options.extra ?? {};
    this.headers = options.headers ?? {};
  }
}

/** The 401 of a missing, unknown or revoked key, with Alpaca's text. */
export function notAuthorized(): AlpacaApiError {
  return new AlpacaApiError(401, 40110000, "request is not authorized");
}

/** A 422 `40010001` naming the bad parameter, as Alpaca answers invalid input. */
export function invalidParameter(message: string): AlpacaApiError {
  return new AlpacaApiError(422, 40010001, message);
}

/** An error mapped to a status, Alpaca's body and extra headers. */
export interface MappedAlpacaError {
  status: ContentfulStatusCode;
  body: AlpacaErrorBody;
  headers: Record<string, string>;
}

/** Alpaca's code for a bare HTTP status: 404 gives 40410000. */
function codeOf(status: number): number {
  return status * 100_000 + 10_000;
}

function retryHeaders(status: number, details: unknown): Record<string, string> {
  if (status !== 429 && status !== 503) return {};
  const retry = (details as Record<string, unknown> | undefined)?.retry_after_seconds;
  return { "Retry-After": String(retry ?? (status === 503 ? 5 : 1)) };
}

/**
 * Maps any thrown value to Alpaca's status and body. Unknown errors become 500
 * `{"code":50010000,"message":"internal server error"}`. Never throws.
 */
export function mapAlpacaError(e: unknown): MappedAlpacaError {
  if (e instanceof AlpacaApiError) {
    return {
      status: e.status,
      body: { code: e.code, message: e.message, ...e.extra },
      headers: e.headers,
    };
  }
  // TradeError and any domain error that knows its Alpaca body.
  const domain = e as {
    status?: unknown;
    details?: unknown;
    toAlpacaBody?: () => AlpacaErrorBody;
  };
  if (
    e instanceof Error && typeof domain.toAlpacaBody === "function" &&
    typeof domain.status === "number" && domain.status >= 400 && domain.status < 600
  ) {
    return {
      status: domain.status as ContentfulStatusCode,
      body: domain.toAlpacaBody(),
      headers: retryHeaders(domain.status, domain.details),
    };
  }
  if (e instanceof z.ZodError) {
    const first = fieldIssues(e, "(root)")[0];
    return {
      status: 422,
      body: {
        code: 40010001,
        message: first ? `invalid ${first.path}: ${first.message}` : "invalid request",
      },
      headers: {},
    };
  }
  if (e instanceof ApiError) {
    if (e.code === "MALFORMED_JSON") {
      return {
        status: 400,
        body: { code: 40010000, message: "request body format is invalid" },
        headers: {},
      };
    }
    if (e.code === "VALIDATION_FAILED") {
      return { status: 422, body: { code: 40010001, message: e.message }, headers: e.headers };
    }
    if (e.status === 401) {
      const m = notAuthorized();
      return { status: 401, body: { code: m.code, message: m.message }, headers: {} };
    }
    return {
      status: e.status,
      body: { code: codeOf(e.status), message: e.message },
      headers: e.headers,
    };
  }
  if (e instanceof HTTPException) {
    const status = e.status as ContentfulStatusCode;
    return {
      status,
      body: { code: codeOf(status), message: e.message || "request failed" },
      headers: {},
    };
  }
  if (isDatabaseUnavailable(e)) {
    return {
      status: 503,
      body: { code: 50310000, message: "service unavailable" },
      headers: { "Retry-After": "5" },
    };
  }
  return { status: 500, body: { code: 50010000, message: "internal server error" }, headers: {} };
}

const log = logger("http");

/**
 * Renders any error as Alpaca's `{"code":…,"message":…}` response, with `X-Request-ID` (the
 * request's id) and any extra headers; logs a 5xx with its stack.
 */
export function alpacaErrorResponse(c: Context, err: unknown): Response {
  const mapped = mapAlpacaError(err);
  if (mapped.status >= 500) {
    log.error("Request failed: {error}", {
      requestId: c.get("requestId"),
      method: c.req.method,
      path: c.req.path,
      error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack}` : String(err),
    });
  }
  for (const [k, v] of Object.entries(mapped.headers)) c.header(k, v);
  const requestId = c.get("requestId");
  if (typeof requestId === "string") c.header("X-Request-ID", requestId);
  return c.json(mapped.body, mapped.status);
}
