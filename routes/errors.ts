/**
 * The one error mapper: every 4xx and 5xx leaves as
 * `{"error":{"code":"SNAKE_CASE_CODE","message":"…","details":…}}`.
 *
 * Routes throw ({@link ApiError}, a domain error with a `code` and `status`, a zod error) and
 * never build error JSON themselves.
 *
 * @module
 */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "zod";
import { type FieldIssue, fieldIssues } from "../core/errors.ts";

/** An error with an HTTP status and a stable code, thrown by routes and middleware. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly status: ContentfulStatusCode;
  readonly code: string;
  readonly details: unknown;
  readonly headers: Record<string, string>;

  constructor(
    status: ContentfulStatusCode,
    code: string,
    message: string,
    options: { details?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** The error body every failure response carries. */
export const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe("Stable SNAKE_CASE error code"),
    message: z.string().describe("What went wrong and what to fix"),
    details: z.unknown().optional(),
  }),
});

const STATUS_CODES: Record<number, string> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "UNPROCESSABLE",
  429: "RATE_LIMITED",
  503: "SERVICE_UNAVAILABLE",
};

/** Field paths and messages of a zod failure, for `details`. */
export function zodIssues(error: z.ZodError): FieldIssue[] {
  return fieldIssues(error, "(root)");
}

/** A 400 VALIDATION_FAILED naming each bad field. */
export function validationFailed(error: z.ZodError, where = "body"): ApiError {
  const issues = zodIssues(error);
  const summary = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join("; ");
  return new ApiError(400, "VALIDATION_FAILED", `Invalid request ${where}: ${summary}`, {
    details: { issues },
  });
}

const CONNECTION_ERRORS = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
  "57P01", // admin_shutdown
  "57P03", // cannot_connect_now
]);

/** Whether an error means the database could not be reached (answered as 503). */
export function isDatabaseUnavailable(e: unknown): boolean {
  const code = (e as { code?: unknown })?.code;
  return typeof code === "string" && CONNECTION_ERRORS.has(code);
}

interface Mapped {
  status: ContentfulStatusCode;
  code: string;
  message: string;
  details?: unknown;
  headers?: Record<string, string>;
}

/** Maps any thrown value to a status, code and message. Unknown errors become 500. */
export function mapError(e: unknown): Mapped {
  if (e instanceof ApiError) {
    return {
      status: e.status,
      code: e.code,
      message: e.message,
      details: e.details,
      headers: e.headers,
    };
  }
  if (e instanceof z.ZodError) {
    const v = validationFailed(e);
    return { status: v.status, code: v.code, message: v.message, details: v.details };
  }
  // Domain errors (core/errors.ts TradeError and friends) carry a code and an HTTP status.
  const domain = e as { code?: unknown; status?: unknown; message?: unknown; details?: unknown };
  if (
    e instanceof Error && typeof domain.code === "string" &&
    /^[A-Z][A-Z0-9_]+$/.test(domain.code) &&
    typeof domain.status === "number" && domain.status >= 400 && domain.status < 600
  ) {
    const details = domain.details as Record<string, unknown> | undefined;
    const retry = details?.retry_after_seconds;
    const headers: Record<string, string> = domain.status === 429 || domain.status === 503
      ? { "Retry-After": String(retry ?? (domain.status === 503 ? 5 : 1)) }
      : {};
    return {
      status: domain.status as ContentfulStatusCode,
      code: domain.code,
      message: e.message,
      details: domain.details,
      headers,
    };
  }
  if (e instanceof HTTPException) {
    const status = e.status as ContentfulStatusCode;
    const code = STATUS_CODES[status] ?? (status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST");
    return { status, code, message: e.message || code };
  }
  if (isDatabaseUnavailable(e)) {
    return {
      status: 503,
      code: "DATABASE_UNAVAILABLE",
      message: "The ledger database is unreachable; nothing was written. Try again shortly",
      headers: { "Retry-After": "5" },
    };
  }
  return { status: 500, code: "INTERNAL_ERROR", message: "Internal error; see the server log" };
}

/** Renders a mapped error as the standard JSON body. */
export function errorResponse(c: Context, mapped: Mapped): Response {
  const body: { error: { code: string; message: string; details?: unknown } } = {
    error: { code: mapped.code, message: mapped.message },
  };
  if (mapped.details !== undefined) body.error.details = mapped.details;
  for (const [k, v] of Object.entries(mapped.headers ?? {})) c.header(k, v);
  return c.json(body, mapped.status);
}
