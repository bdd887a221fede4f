/**
 * Routes declared once, validated and documented from the same zod schemas.
 *
 * `defineRoute(app, spec, handler)` registers a Hono handler that parses the path
 * parameters, query and JSON body with the spec's schemas (400 `VALIDATION_FAILED` with field
 * paths, 400 `MALFORMED_JSON` for bad JSON) and records the operation in an {@link ApiSpec},
 * which renders the OpenAPI 3.1 document served at `/openapi.json`.
 *
 * @module
 */
import type { Context, Env, Hono } from "hono";
import { z } from "zod";
import { nulIssues } from "../core/input.ts";
import { ApiError, ErrorBody, validationFailed } from "./errors.ts";

type Method = "get" | "post" | "put" | "patch" | "delete";

/** A response in the document. */
export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Defaults to application/json. */
  contentType?: string;
}

/** One operation: where it lives, what it takes, what it answers. */
export interface RouteSpec<
  P extends z.ZodType = z.ZodType,
  Q extends z.ZodType = z.ZodType,
  B extends z.ZodType = z.ZodType,
> {
  method: Method;
  /** Hono path relative to the mount point, e.g. `/orders/:id`. */
  path: string;
  summary: string;
  description?: string;
  tags?: string[];
  /** Whether a bearer token is required (documentation only; middleware enforces). */
  auth?: boolean;
  params?: P;
  query?: Q;
  body?: B;
  /** Extra headers the operation reads, for the document. */
  headers?: { name: string; description: string; required?: boolean }[];
  responses: Record<number, ResponseSpec>;
}

/** Parsed input handed to a handler. */
export interface RouteInput<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

interface Recorded {
  spec: RouteSpec;
  fullPath: string;
}

/** Collects operations and renders them as an OpenAPI 3.1 document. */
export class ApiSpec {
  #ops: Recorded[] = [];

  /** Records an operation mounted under `prefix`. */
  add(spec: RouteSpec, prefix = ""): void {
    this.#ops.push({ spec, fullPath: prefix + spec.path });
  }

  /** The OpenAPI 3.1 document. */
  document(info: { title: string; version: string; description?: string }): unknown {
    const paths: Record<string, Record<string, unknown>> = {};
    const schemas: Record<string, unknown> = {};
    const toSchema = (schema: z.ZodType, io: "input" | "output") => {
      const json = z.toJSONSchema(schema, {
        target: "draft-2020-12",
        io,
        unrepresentable: "any",
        reused: "inline",
        override: (ctx) => {
          delete (ctx.jsonSchema as Record<string, unknown>).$schema;
        },
      }) as Record<string, unknown>;
      delete json.$schema;
      // References point into components, from the operation and from one schema to another.
      const toComponents = <T>(value: T): T =>
        JSON.parse(JSON.stringify(value).replaceAll('"#/$defs/', '"#/components/schemas/'));
      const defs = json.$defs as Record<string, unknown> | undefined;
      if (defs) {
        Object.assign(schemas, toComponents(defs));
        delete json.$defs;
      }
      return toComponents(json);
    };
    for (const { spec, fullPath } of this.#ops) {
      const oaPath = fullPath.replace(/:([A-Za-z0-9_]+)(\{[^}]*\})?/g, "{$1}");
      const parameters: unknown[] = [];
      const addParams = (schema: z.ZodType | undefined, where: "path" | "query") => {
        if (!schema) return;
        const json = toSchema(schema, "input") as {
          properties?: Record<string, unknown>;
          required?: string[];
        };
        for (const [name, s] of Object.entries(json.properties ?? {})) {
          parameters.push({
            name,
            in: where,
            required: where === "path" || (json.required ?? []).includes(name),
            schema: s,
            ...(typeof (s as { description?: string }).description === "string"
              ? { description: (s as { description: string }).description }
              : {}),
          });
        }
      };
      addParams(spec.params, "path");
      addParams(spec.query, "query");
      for (const h of spec.headers ?? []) {
        parameters.push({
          name: h.name,
          in: "header",
          required: h.required ?? false,
          description: h.description,
          schema: { type: "string" },
        });
      }
      const responses: Record<string, unknown> = {};
      for (const [status, r] of Object.entries(spec.responses)) {
        responses[status] = {
          description: r.description,
          ...(r.schema
            ? {
              content: {
                [r.contentType ?? "application/json"]: { schema: toSchema(r.schema, "output") },
              },
            }
            : {}),
        };
      }
      const auth = spec.auth ?? true;
      if (auth && !responses["401"]) {
        responses["401"] = {
          description: "Missing, invalid or expired token",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
      }
      if ((spec.body || spec.query || spec.params) && !responses["400"]) {
        responses["400"] = {
          description: "Invalid input (VALIDATION_FAILED or MALFORMED_JSON)",
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
      }
      const op: Record<string, unknown> = {
        summary: spec.summary,
        operationId: `${spec.method}${
          oaPath.replace(/[{}]/g, "").split("/").map((s) =>
            s.split(/[-_]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join("")
          ).join("")
        }`,
        tags: spec.tags ?? [],
        parameters,
        responses,
      };
      if (spec.description) op.description = spec.description;
      if (spec.body) {
        op.requestBody = {
          required: !spec.body.safeParse(undefined).success,
          content: { "application/json": { schema: toSchema(spec.body, "input") } },
        };
      }
      if (!auth) op.security = [];
      (paths[oaPath] ??= {})[spec.method] = op;
    }
    schemas.Error ??= toSchema(ErrorBody, "output");
    return {
      openapi: "3.1.0",
      info,
      servers: [{ url: "/" }],
      security: [{ bearer: [] }],
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", bearerFormat: "JWT" } },
        schemas,
      },
      paths,
    };
  }
}

async function readJson(c: Context): Promise<unknown> {
  const text = await c.req.text();
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ApiError(
      400,
      "MALFORMED_JSON",
      `Request body is not valid JSON: ${(e as Error).message}`,
    );
  }
}

/**
 * A 400 `VALIDATION_FAILED` when any string in the input (a key or a value, at any depth) holds
 * a NUL character, which PostgreSQL cannot store: checked before any schema, so no route can
 * let one reach SQL.
 */
function refuseNul(input: unknown, where: "path" | "query" | "body"): void {
  const issues = nulIssues(input);
  if (issues.length === 0) return;
  const summary = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join("; ");
  throw new ApiError(400, "VALIDATION_FAILED", `Invalid request ${where}: ${summary}`, {
    details: { issues },
  });
}

function queryObject(c: Context): Record<string, string | string[]> {
  const all = c.req.queries();
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(all)) out[k] = v.length === 1 ? v[0]! : v;
  return out;
}

/**
 * Registers a validated, documented route on `app` and records it in `spec` under `prefix`
 * (the path the app is mounted at, for the document).
 */
export function defineRoute<
  E extends Env,
  P extends z.ZodType = z.ZodUndefined,
  Q extends z.ZodType = z.ZodUndefined,
  B extends z.ZodType = z.ZodUndefined,
>(
  target: { app: Hono<E>; spec: ApiSpec; prefix: string },
  route: RouteSpec<P, Q, B>,
  handler: (
    c: Context<E>,
    input: RouteInput<z.output<P>, z.output<Q>, z.output<B>>,
  ) => Response | Promise<Response>,
): void {
  target.spec.add(route as unknown as RouteSpec, target.prefix);
  target.app.on(route.method.toUpperCase(), route.path, async (c) => {
    const input = { params: undefined, query: undefined, body: undefined } as RouteInput<
      z.output<P>,
      z.output<Q>,
      z.output<B>
    >;
    if (route.params) {
      refuseNul(c.req.param(), "path");
      const r = route.params.safeParse(c.req.param());
      if (!r.success) throw validationFailed(r.error, "path");
      input.params = r.data as z.output<P>;
    }
    if (route.query) {
      refuseNul(queryObject(c), "query");
      const r = route.query.safeParse(queryObject(c));
      if (!r.success) throw validationFailed(r.error, "query");
      input.query = r.data as z.output<Q>;
    }
    if (route.body) {
      const raw = await readJson(c);
      refuseNul(raw, "body");
      const r = route.body.safeParse(raw);
      if (raw === undefined && !r.success) {
        throw new ApiError(400, "VALIDATION_FAILED", "Request body is required (JSON)");
      }
      if (!r.success) throw validationFailed(r.error, "body");
      input.body = r.data as z.output<B>;
    }
    return await handler(c as Context<E>, input);
  });
}
