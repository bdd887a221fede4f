/**
 * Object ids (UUID v4, lower-case with dashes, as Alpaca uses) from an injectable source.
 *
 * Production code takes an {@link IdSource} from its `Deps`; the default is
 * {@link cryptoIdSource}. Tests and backtests pass {@link seededIdSource} so that two runs with
 * the same seed produce byte-identical ids.
 *
 * @example
 * ```ts
 * const ids = seededIdSource("backtest-1");
 * ids(); // the same UUID v4 on every run
 * ```
 *
 * @module
 */

/** Produces a fresh UUID v4 string on each call. */
export type IdSource = () => string;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MASK_64 = (1n << 64n) - 1n;

/** Ids from `crypto.randomUUID()`: the default outside tests and backtests. Never throws. */
export const cryptoIdSource: IdSource = () => crypto.randomUUID();

/**
 * A deterministic id source: the same seed gives the same sequence of UUID v4 strings on every
 * run and platform (SplitMix64 over a 64-bit FNV-1a hash of the seed). Not for secrets.
 * Never throws.
 */
export function seededIdSource(seed: string | number | bigint): IdSource {
  let state = fnv1a64(String(seed));
  const next64 = (): bigint => {
    state = (state + 0x9e3779b97f4a7c15n) & MASK_64;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK_64;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK_64;
    return z ^ (z >> 31n);
  };
  return () => {
    const bytes = new Uint8Array(16);
    const hi = next64();
    const lo = next64();
    for (let i = 0; i < 8; i++) {
      bytes[i] = Number((hi >> BigInt(56 - 8 * i)) & 0xffn);
      bytes[8 + i] = Number((lo >> BigInt(56 - 8 * i)) & 0xffn);
    }
    return uuidV4FromBytes(bytes);
  };
}

/**
 * Formats 16 random bytes as a UUID v4 (sets the version and variant bits).
 * Throws `RangeError` unless exactly 16 bytes are given.
 */
export function uuidV4FromBytes(bytes: Uint8Array): string {
  if (bytes.length !== 16) {
    throw new RangeError(`Cannot make a UUID from ${bytes.length} bytes: need "16"`);
  }
  const b = Uint8Array.from(bytes);
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** True for a lower-case, dashed UUID v4 string. Never throws. */
export function isUuidV4(value: string): boolean {
  return UUID_RE.test(value);
}

function fnv1a64(text: string): bigint {
  let h = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * 0x100000001b3n) & MASK_64;
  }
  return h;
}
