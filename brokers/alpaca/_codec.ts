/**
 * Frames of Alpaca's streams: msgpack (what the market-data stream speaks to a client that
 * asks for it on the upgrade) or JSON text, and binary frames holding UTF-8 JSON (what the
 * trading stream sends). Pure: no I/O.
 *
 * @module
 */
import {
  decode,
  decodeTimestampToTimeSpec,
  encode,
  EXT_TIMESTAMP,
  ExtensionCodec,
} from "@msgpack/msgpack";

/** How a stream encodes its frames. */
export type StreamCodec = "msgpack" | "json";

/**
 * msgpack timestamps (ext −1) decode to RFC-3339 text with all nine fractional digits, as
 * Alpaca's JSON stream writes them, so both codecs give the same values.
 */
const timestamps = new ExtensionCodec();
timestamps.register({
  type: EXT_TIMESTAMP,
  encode: () => null,
  decode: (data: Uint8Array): string => {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    const whole = new Date(sec * 1000).toISOString().slice(0, 19);
    return `${whole}.${String(nsec).padStart(9, "0")}Z`;
  },
});

/** An outbound frame: msgpack bytes or JSON text. */
export function encodeFrame(frame: unknown, codec: StreamCodec): string | Uint8Array {
  return codec === "msgpack" ? encode(frame) : JSON.stringify(frame);
}

/**
 * Reads an inbound frame: text is JSON; bytes are JSON when they start like JSON (`[` or `{`,
 * which no Alpaca msgpack message does), msgpack otherwise.
 *
 * @throws {SyntaxError} or msgpack's `DecodeError` when the frame reads as neither.
 */
export function decodeFrame(data: string | ArrayBuffer | Uint8Array): unknown {
  if (typeof data === "string") return JSON.parse(data);
  const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
  let i = 0;
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d)) i++;
  if (bytes[i] === 0x5b || bytes[i] === 0x7b) return JSON.parse(new TextDecoder().decode(bytes));
  return decode(bytes, { extensionCodec: timestamps });
}
