/**
 * `GET /api/v1/stream`: the live WebSocket stream (the only module that imports
 * `hono/deno`). The token comes as `?token=` or as `Sec-WebSocket-Protocol: bearer, <token>`
 * (the server then answers the `bearer` subprotocol); browsers cannot set an Authorization
 * header on a WebSocket. A missing, invalid or expired token, a bad request or a limit
 * closes the socket with 1008 and a reason before any data.
 *
 * Query: `symbols=AAPL,MSFT`, `streams=trades,quotes,bars,orders,bots,account` (default:
 * all), `after=<seq>` (replay the trader's order events after that ledger sequence first).
 * The messages and commands are described in actors/stream_hub.ts.
 *
 * @module
 */
import { Hono } from "hono";
import { upgradeWebSocket } from "hono/deno";
import type { Sql } from "postgres";
import { z } from "zod";
import {
  CLOSE,
  closeReason,
  type StreamConnection,
  type StreamHub,
  StreamRefusal,
  type StreamRequest,
  type StreamUser,
} from "../actors/stream_hub.ts";
import { type Authenticator, userResolver } from "./auth.ts";
import { ApiError } from "./errors.ts";
import type { AppEnv } from "./app.ts";
import type { ApiSpec } from "./openapi.ts";

/** What the stream route needs. */
export interface StreamRouteDeps {
  hub: StreamHub;
  auth: Authenticator;
  sql: Sql;
}

const StreamQuery = z.object({
  token: z.string().optional().describe(
    "Bearer token (or send Sec-WebSocket-Protocol: bearer, <token>)",
  ),
  symbols: z.string().optional().describe("Comma-separated symbols, e.g. AAPL,MSFT"),
  streams: z.string().optional().describe(
    "Comma-separated streams: trades, quotes, bars, orders, bots, account (default: all)",
  ),
  after: z.string().optional().describe(
    "Replay your order events after this ledger sequence (the seq of the last one you saw)",
  ),
});

function list(text: string | undefined): string[] | undefined {
  if (text === undefined) return undefined;
  return text.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}

/** The token of a `Sec-WebSocket-Protocol: bearer, <token>` header, if any. */
export function protocolToken(header: string | undefined): string | null {
  if (!header) return null;
  const parts = header.split(",").map((s) => s.trim());
  return parts[0]?.toLowerCase() === "bearer" && parts[1] ? parts[1] : null;
}

/** Mounts `GET /stream` (under /api/v1) and documents it. */
export function streamRoutes(deps: StreamRouteDeps, spec: ApiSpec): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const userOf = userResolver(deps.sql);

  spec.add({
    method: "get",
    path: "/stream",
    summary: "Live stream over WebSocket: market data, your orders, account and bots",
    description:
      'Upgrade to a WebSocket. Every message is {"stream","symbol","seq","data"}. Commands: ' +
      '{"action":"subscribe"|"unsubscribe","symbols":[…],"streams":[…]} and ' +
      '{"action":"ping"}. Order events carry the ledger seq; reconnect with ?after=<seq> ' +
      "to replay what you missed. A bad token closes the socket with 1008.",
    tags: ["stream"],
    auth: false,
    query: StreamQuery,
    responses: {
      101: { description: "Switching protocols to WebSocket" },
      426: { description: "Not a WebSocket upgrade (UPGRADE_REQUIRED)" },
    },
  }, "/api/v1");

  app.get(
    "/stream",
    async (c, next) => {
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new ApiError(
          426,
          "UPGRADE_REQUIRED",
          "GET /api/v1/stream is a WebSocket: connect with a WebSocket client",
          { headers: { Upgrade: "websocket" } },
        );
      }
      await next();
    },
    upgradeWebSocket(async (c) => {
      const token = c.req.query("token") ||
        protocolToken(c.req.header("sec-websocket-protocol"));
      let refusal: { code: number; reason: string } | null = null;
      let user: StreamUser | null = null;
      if (!token) {
        refusal = {
          code: CLOSE.policy,
          reason: "Missing token: pass ?token= or Sec-WebSocket-Protocol: bearer, <token>",
        };
      } else {
        try {
          user = await userOf(await deps.auth.verify(token));
        } catch (e) {
          refusal = e instanceof ApiError && e.status === 401
            ? { code: CLOSE.policy, reason: e.message }
            : { code: CLOSE.internal, reason: "Cannot check the token now: try again shortly" };
        }
      }
      const request: StreamRequest = {
        symbols: list(c.req.query("symbols")),
        streams: list(c.req.query("streams")),
        after: c.req.query("after") ?? null,
      };
      let conn: StreamConnection | null = null;
      return {
        onOpen(_event, ws) {
          if (refusal || !user) {
            ws.close(refusal?.code ?? CLOSE.policy, closeReason(refusal?.reason ?? "Unauthorized"));
            return;
          }
          try {
            conn = deps.hub.connect(ws.raw as WebSocket, user, request);
          } catch (e) {
            const refused = e instanceof StreamRefusal;
            ws.close(
              refused ? e.code : CLOSE.internal,
              closeReason(refused ? e.message : "Cannot open the stream"),
            );
          }
        },
        onMessage(event) {
          conn?.receive(typeof event.data === "string" ? event.data : null);
        },
        onClose() {
          conn?.close();
        },
      };
    }, { idleTimeout: deps.hub.limits.idleTimeoutMs / 1000 }),
  );
  return app;
}
