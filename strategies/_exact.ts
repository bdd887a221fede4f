/**
 * Exact sums of doubles, private to strategies/.
 *
 * Every finite double is an integer times a power of two, so a sum of doubles can be held
 * exactly as a `bigint` count of `2^exp` units. {@link ExactSum} keeps such a sum (adding and
 * removing values in any order leaves no rounding residue) and {@link ratioToNumber} rounds an
 * exact ratio to the nearest double (ties to even). Together they give window means that depend
 * only on the values in the window, never on the path that led there: two SMAs over identical
 * values are bit-for-bit equal, and a constant window has a mean equal to that constant and a
 * standard deviation of exactly zero.
 *
 * @module
 */

const scratch = new DataView(new ArrayBuffer(8));
const TWO_32 = 4294967296;

function ctz32(v: number): number {
  return 31 - Math.clz32(v & -v);
}

/**
 * Splits a finite double into `[m, e]` with `x === m * 2^e` exactly, `m` odd (or zero).
 * Throws a RangeError on NaN or an infinity.
 */
export function splitDouble(x: number): [bigint, number] {
  if (!Number.isFinite(x)) throw new RangeError(`Cannot use ${x} as an indicator input`);
  if (x === 0) return [0n, 0];
  scratch.setFloat64(0, x);
  const hi = scratch.getUint32(0);
  const lo = scratch.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (hi & 0xfffff) * TWO_32 + lo;
  let e: number;
  if (biased === 0) {
    e = -1074;
  } else {
    mant += 2 ** 52;
    e = biased - 1075;
  }
  const tz = lo !== 0 ? ctz32(lo) : 32 + ctz32(mant / TWO_32);
  mant /= 2 ** tz;
  e += tz;
  return [BigInt(x < 0 ? -mant : mant), e];
}

/** The double `2^p` for an integer `p` in [-1074, 1023], built from its bits. */
function pow2(p: number): number {
  if (p >= -1022) {
    scratch.setUint32(0, (p + 1023) * 2 ** 20);
    scratch.setUint32(4, 0);
  } else {
    const bit = p + 1074; // 0..51
    scratch.setUint32(0, bit >= 32 ? 2 ** (bit - 32) : 0);
    scratch.setUint32(4, bit < 32 ? 2 ** bit : 0);
  }
  return scratch.getFloat64(0);
}

function bitLength(x: bigint): number {
  const s = x.toString(16);
  return (s.length - 1) * 4 + (32 - Math.clz32(parseInt(s[0]!, 16)));
}

/**
 * The double nearest to `num * 2^exp / den` (ties to even), for `den > 0`. Overflows to an
 * infinity; never throws for `den > 0`.
 */
export function ratioToNumber(num: bigint, exp: number, den: bigint): number {
  if (num === 0n) return 0;
  const negative = num < 0n;
  const a = negative ? -num : num;
  // floor(log2(a / den)) is la - ld or one less.
  let f = bitLength(a) - bitLength(den);
  const below = f >= 0 ? a < den << BigInt(f) : a << BigInt(-f) < den;
  if (below) f -= 1;
  f += exp; // floor(log2(value))
  if (f > 1023) return negative ? -Infinity : Infinity;
  const t = Math.max(f - 52, -1074); // exponent of the result's last place
  const shift = exp - t;
  const n = shift >= 0 ? a << BigInt(shift) : a;
  const d = shift >= 0 ? den : den << BigInt(-shift);
  let q = n / d;
  const twice = (n - q * d) * 2n;
  if (twice > d || (twice === d && (q & 1n) === 1n)) q += 1n;
  const result = Number(q) * pow2(t);
  return negative ? -result : result;
}

/** An exact running sum of doubles, held as `units * 2^exp`. */
export class ExactSum {
  /** The sum in units of `2^exp`. */
  units = 0n;
  /** Exponent of one unit; only ever decreases. */
  exp = 0;

  /** Adds `m * 2^e` exactly. */
  addParts(m: bigint, e: number): void {
    if (m === 0n) return;
    if (e < this.exp) {
      this.units <<= BigInt(this.exp - e);
      this.exp = e;
    }
    this.units += m << BigInt(e - this.exp);
  }

  /** Adds a double exactly. Throws a RangeError on a non-finite value. */
  add(x: number): void {
    const [m, e] = splitDouble(x);
    this.addParts(m, e);
  }

  /** Subtracts a double exactly. Throws a RangeError on a non-finite value. */
  sub(x: number): void {
    const [m, e] = splitDouble(x);
    this.addParts(-m, e);
  }

  /** Adds `x²` exactly. */
  addSquare(x: number): void {
    const [m, e] = splitDouble(x);
    this.addParts(m * m, 2 * e);
  }

  /** Subtracts `x²` exactly. */
  subSquare(x: number): void {
    const [m, e] = splitDouble(x);
    this.addParts(-m * m, 2 * e);
  }

  /** The double nearest to the sum divided by `n` (a positive integer). */
  mean(n: number): number {
    return ratioToNumber(this.units, this.exp, BigInt(n));
  }

  /** A copy of this sum. */
  clone(): ExactSum {
    const c = new ExactSum();
    c.units = this.units;
    c.exp = this.exp;
    return c;
  }
}

/**
 * The double nearest to the population variance of `n` values whose exact sum is `sum` and whose
 * exact sum of squares is `squares`: `(n·Σx² − (Σx)²) / n²`, never negative.
 */
export function exactVariance(sum: ExactSum, squares: ExactSum, n: number): number {
  const nb = BigInt(n);
  // n·Σx² in units of 2^squares.exp; (Σx)² in units of 2^(2·sum.exp).
  let a = squares.units * nb;
  let ae = squares.exp;
  let b = sum.units * sum.units;
  let be = 2 * sum.exp;
  if (a === 0n) ae = be;
  if (b === 0n) be = ae;
  const e = Math.min(ae, be);
  a <<= BigInt(ae - e);
  b <<= BigInt(be - e);
  const num = a - b;
  return num <= 0n ? 0 : ratioToNumber(num, e, nb * nb);
}
