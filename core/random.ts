/**
 * Seeded pseudo-random numbers and hashing for deterministic simulations.
 *
 * {@link Rng} is xoshiro128** (128-bit state, period 2^128 − 1) seeded through SplitMix32, so
 * nearby seeds give unrelated streams. The hashing helpers ({@link hashString}, {@link mixKey},
 * {@link streamKey}) turn structured coordinates such as (seed, symbol, minute index) into a 32-bit
 * stream key, which lets a simulation jump straight to any bucket of time without replaying the
 * ones before it. Everything here is pure and platform-independent: the same inputs give the same
 * numbers on every run. Not for secrets.
 *
 * @example
 * ```ts
 * const rng = rngFor(42, "AAPL", 28_000_000); // the stream of one minute of AAPL
 * rng.normal(); // the same value on every run
 * ```
 *
 * @module
 */

const TWO_32 = 4294967296;

/**
 * MurmurHash3's 32-bit finaliser: every input bit affects every output bit. Answers an unsigned
 * 32-bit integer. Never throws.
 */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** One MurmurHash3 block step: folds the 32-bit word `k` into the running hash `h`. */
function mixWord(h: number, k: number): number {
  k = Math.imul(k, 0xcc9e2d51);
  k = (k << 15) | (k >>> 17);
  k = Math.imul(k, 0x1b873593);
  h ^= k;
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** Folds a safe integer of any sign (as two 32-bit words) into the running hash `h`. */
function mixSafeInt(h: number, value: number): number {
  if ((value | 0) === value) return mixWord(mixWord(h, value), value < 0 ? -1 : 0);
  const hi = Math.floor(value / TWO_32);
  const lo = value - hi * TWO_32;
  return mixWord(mixWord(h, lo | 0), hi | 0);
}

function checkInt(value: number, what: string): void {
  if (!Number.isSafeInteger(value)) {
    throw new RangeError(`Cannot hash ${what} "${value}": not a safe integer`);
  }
}

/**
 * MurmurHash3 (32-bit) of a string's UTF-16 code units, with a seed (any safe integer). Answers an
 * unsigned 32-bit integer.
 *
 * @throws {RangeError} if `seed` is not a safe integer.
 */
export function hashString(text: string, seed = 0): number {
  checkInt(seed, "seed");
  let h = mixSafeInt(0x6a09e667, seed);
  for (let i = 0; i < text.length; i++) h = mixWord(h, text.charCodeAt(i));
  return fmix32(h ^ text.length);
}

/**
 * Hashes a key and up to three safe integers (any sign, up to 2^53) into an unsigned 32-bit
 * stream key. Allocation-free, so it can run once per simulated minute or tick.
 *
 * @throws {RangeError} if any argument is not a safe integer.
 */
export function mixKey(key: number, a: number, b = 0, c = 0): number {
  if (
    ((key | 0) !== key && !Number.isSafeInteger(key)) ||
    ((a | 0) !== a && !Number.isSafeInteger(a)) ||
    ((b | 0) !== b && !Number.isSafeInteger(b)) || ((c | 0) !== c && !Number.isSafeInteger(c))
  ) {
    checkInt(key, "key");
    checkInt(a, "value");
    checkInt(b, "value");
    checkInt(c, "value");
  }
  let h = mixSafeInt(0x3c6ef372, key);
  h = mixSafeInt(h, a);
  h = mixSafeInt(h, b);
  h = mixSafeInt(h, c);
  return fmix32(h ^ 32);
}

/**
 * The stream key of one bucket of one symbol: `mixKey(hashString(symbol, seed), bucket, salt)`.
 * Use different `salt` values for independent streams over the same bucket.
 *
 * @throws {RangeError} if `seed`, `bucket` or `salt` is not a safe integer.
 */
export function streamKey(seed: number, symbol: string, bucket: number, salt = 0): number {
  return mixKey(hashString(symbol, seed), bucket, salt);
}

/**
 * A fast seeded generator (xoshiro128**). Reseeding is cheap and allocation-free, so one
 * instance can serve many short streams in a hot loop.
 *
 * @example
 * ```ts
 * const rng = new Rng(7);
 * const u = rng.next(); // [0, 1)
 * const z = rng.normal(); // N(0, 1)
 * ```
 */
export class Rng {
  /** xoshiro128** state: four 32-bit words. */
  readonly #s = new Int32Array(4);

  /**
   * A generator seeded with any safe integer.
   *
   * @throws {RangeError} if `seed` is not a safe integer.
   */
  constructor(seed = 0) {
    this.reseed(seed);
  }

  /**
   * Restarts the generator at the start of the stream named by `seed` (any safe integer);
   * answers this generator.
   *
   * @throws {RangeError} if `seed` is not a safe integer.
   */
  reseed(seed: number): this {
    let s = seed >>> 0;
    if (seed !== s) {
      checkInt(seed, "seed");
      s = fmix32(mixSafeInt(0x510e527f, seed));
    }
    // SplitMix32 fills the state; it cannot produce four zero words from one seed.
    const st = this.#s;
    for (let i = 0; i < 4; i++) {
      s = (s + 0x9e3779b9) | 0;
      st[i] = splitmix32(s);
    }
    return this;
  }

  /** The next unsigned 32-bit integer. */
  nextUint32(): number {
    const s = this.#s;
    const a = s[0]!;
    const b = s[1]!;
    const c = s[2]! ^ a;
    const d = s[3]! ^ b;
    const r = Math.imul(b, 5);
    s[0] = a ^ d;
    s[1] = b ^ c;
    s[2] = c ^ (b << 9);
    s[3] = (d << 11) | (d >>> 21);
    return Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
  }

  /** A uniform number in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / TWO_32;
  }

  /** A uniform number in the open interval (0, 1): safe to pass to `Math.log`. */
  nextOpen(): number {
    return (this.nextUint32() + 0.5) / TWO_32;
  }

  /**
   * A uniform integer in [min, maxExclusive).
   *
   * @throws {RangeError} unless both bounds are safe integers with min < maxExclusive.
   */
  int(min: number, maxExclusive: number): number {
    if (!(Number.isSafeInteger(min) && Number.isSafeInteger(maxExclusive) && min < maxExclusive)) {
      throw new RangeError(`Cannot draw an integer from "[${min}, ${maxExclusive})"`);
    }
    return min + Math.floor(this.next() * (maxExclusive - min));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /**
   * A standard normal sample N(0, 1), by Marsaglia and Tsang's ziggurat (128 layers): one 32-bit
   * word gives the layer (7 bits) and the value (25 bits); 1.2 % of calls draw more.
   */
  normal(): number {
    const u = this.nextUint32();
    const iz = u & 127;
    const hz = u >> 7; // signed 25-bit
    if ((hz < 0 ? -hz : hz) < ZIG_K[iz]!) return hz * ZIG_W[iz]!;
    return this.#normalSlow(hz, iz);
  }

  #normalSlow(hz: number, iz: number): number {
    for (;;) {
      if (iz === 0) {
        // The tail beyond ZIG_R.
        let tx: number;
        let ty: number;
        do {
          tx = -Math.log(this.nextOpen()) / ZIG_R;
          ty = -Math.log(this.nextOpen());
        } while (ty + ty < tx * tx);
        return hz > 0 ? ZIG_R + tx : -ZIG_R - tx;
      }
      const x = hz * ZIG_W[iz]!;
      const f0 = ZIG_F[iz]!;
      if (f0 + this.next() * (ZIG_F[iz - 1]! - f0) < Math.exp(-0.5 * x * x)) return x;
      const u = this.nextUint32();
      iz = u & 127;
      hz = u >> 7;
      if ((hz < 0 ? -hz : hz) < ZIG_K[iz]!) return hz * ZIG_W[iz]!;
    }
  }

  /**
   * An exponential sample with mean 1, by Marsaglia and Tsang's ziggurat (256 layers): one
   * 32-bit word gives the layer (8 bits) and the value (24 bits).
   */
  exponential(): number {
    const u = this.nextUint32();
    const iz = u & 255;
    const jz = u >>> 8;
    if (jz < EXP_K[iz]!) return jz * EXP_W[iz]!;
    return this.#exponentialSlow(jz, iz);
  }

  #exponentialSlow(jz: number, iz: number): number {
    for (;;) {
      if (iz === 0) return EXP_R - Math.log(this.nextOpen());
      const x = jz * EXP_W[iz]!;
      const f0 = EXP_F[iz]!;
      if (f0 + this.next() * (EXP_F[iz - 1]! - f0) < Math.exp(-x)) return x;
      const u = this.nextUint32();
      iz = u & 255;
      jz = u >>> 8;
      if (jz < EXP_K[iz]!) return jz * EXP_W[iz]!;
    }
  }

  /**
   * Fills `out[0..count)` with {@link normal} samples: the same numbers as `count` calls, but
   * with the generator state in registers, for hot loops.
   */
  fillNormal(out: Float64Array, count: number = out.length): void {
    const st = this.#s;
    const kTable = ZIG_K;
    const wTable = ZIG_W;
    let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
    for (let i = 0; i < count; i++) {
      // xoshiro128** step, as nextUint32.
      const r = Math.imul(b, 5);
      const u = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
      c ^= a;
      d ^= b;
      const t = b << 9;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      const iz = u & 127;
      const hz = u >> 7;
      if ((hz < 0 ? -hz : hz) < kTable[iz]!) {
        out[i] = hz * wTable[iz]!;
      } else {
        st[0] = a, st[1] = b, st[2] = c, st[3] = d;
        out[i] = this.#normalSlow(hz, iz);
        a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
      }
    }
    st[0] = a, st[1] = b, st[2] = c, st[3] = d;
  }

  /** Fills `out[0..count)` with {@link exponential} samples (as `count` calls would). */
  fillExponential(out: Float64Array, count: number = out.length): void {
    const st = this.#s;
    const kTable = EXP_K;
    const wTable = EXP_W;
    let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
    for (let i = 0; i < count; i++) {
      const r = Math.imul(b, 5);
      const u = Math.imul((r << 7) | (r >>> 25), 9) >>> 0;
      c ^= a;
      d ^= b;
      const t = b << 9;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
      const iz = u & 255;
      const jz = u >>> 8;
      if (jz < kTable[iz]!) {
        out[i] = jz * wTable[iz]!;
      } else {
        st[0] = a, st[1] = b, st[2] = c, st[3] = d;
        out[i] = this.#exponentialSlow(jz, iz);
        a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
      }
    }
    st[0] = a, st[1] = b, st[2] = c, st[3] = d;
  }

  /** Fills `out[0..count)` with {@link nextUint32} values (as `count` calls would). */
  fillUint32(out: Uint32Array, count: number = out.length): void {
    const st = this.#s;
    let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!;
    for (let i = 0; i < count; i++) {
      const r = Math.imul(b, 5);
      out[i] = Math.imul((r << 7) | (r >>> 25), 9);
      c ^= a;
      d ^= b;
      const t = b << 9;
      b ^= c;
      a ^= d;
      c ^= t;
      d = (d << 11) | (d >>> 21);
    }
    st[0] = a, st[1] = b, st[2] = c, st[3] = d;
  }

  /**
   * A uniformly chosen element of a non-empty array.
   *
   * @throws {RangeError} if the array is empty.
   */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("Cannot pick from an empty array");
    return items[Math.floor(this.next() * items.length)]!;
  }
}

/**
 * A generator for one bucket of one symbol: `new Rng(streamKey(seed, symbol, bucket, salt))`.
 *
 * @throws {RangeError} if `seed`, `bucket` or `salt` is not a safe integer.
 */
export function rngFor(seed: number, symbol: string, bucket: number, salt = 0): Rng {
  return new Rng(streamKey(seed, symbol, bucket, salt));
}

// Ziggurat tables (Marsaglia & Tsang 2000, RNOR with 128 layers).
const ZIG_R = 3.442619855899;
const ZIG_K = new Float64Array(128);
const ZIG_W = new Float64Array(128);
const ZIG_F = new Float64Array(128);
{
  const m1 = 16777216; // 2^24: |hz| < 2^24
  const vn = 9.91256303526217e-3;
  let dn = ZIG_R;
  let tn = dn;
  const q = vn / Math.exp(-0.5 * dn * dn);
  ZIG_K[0] = (dn / q) * m1;
  ZIG_K[1] = 0;
  ZIG_W[0] = q / m1;
  ZIG_W[127] = dn / m1;
  ZIG_F[0] = 1;
  ZIG_F[127] = Math.exp(-0.5 * dn * dn);
  for (let i = 126; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(vn / dn + Math.exp(-0.5 * dn * dn)));
    ZIG_K[i + 1] = (dn / tn) * m1;
    tn = dn;
    ZIG_F[i] = Math.exp(-0.5 * dn * dn);
    ZIG_W[i] = dn / m1;
  }
}

// Exponential ziggurat tables (Marsaglia & Tsang 2000, REXP with 256 layers).
const EXP_R = 7.697117470131487;
const EXP_K = new Float64Array(256);
const EXP_W = new Float64Array(256);
const EXP_F = new Float64Array(256);
{
  const m2 = 16777216; // 2^24: jz < 2^24
  const ve = 3.949659822581572e-3;
  let de = EXP_R;
  let te = de;
  const q = ve / Math.exp(-de);
  EXP_K[0] = (de / q) * m2;
  EXP_K[1] = 0;
  EXP_W[0] = q / m2;
  EXP_W[255] = de / m2;
  EXP_F[0] = 1;
  EXP_F[255] = Math.exp(-de);
  for (let i = 254; i >= 1; i--) {
    de = -Math.log(ve / de + Math.exp(-de));
    EXP_K[i + 1] = (de / te) * m2;
    te = de;
    EXP_F[i] = Math.exp(-de);
    EXP_W[i] = de / m2;
  }
}

function splitmix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) | 0;
}
