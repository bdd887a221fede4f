/**
 * Exact fixed-point decimals for money, prices and quantities.
 *
 * A {@link Decimal} is an immutable integer count of nano-units (scale 10^9), held in a
 * `bigint`. Nine decimal places cover Alpaca's fractional quantities (9 dp), sub-dollar prices
 * (4 dp) and cash; products and quotients are rounded back to nine places (half-even unless
 * told otherwise). Values cross boundaries (JSON, SQL `numeric`, worker messages) as canonical
 * decimal strings such as `"150.25"` or `"-0.000000001"`.
 *
 * @example
 * ```ts
 * const cost = Decimal.parse("2.5").mul(Decimal.parse("174.78")); // "436.95"
 * cost.toString();
 * ```
 *
 * @module
 */

/** Number of decimal places every {@link Decimal} carries. */
export const SCALE = 9;
const ONE_UNITS = 10n ** BigInt(SCALE);
const DECIMAL_RE = /^([+-])?(\d+)(?:\.(\d*))?$|^([+-])?\.(\d+)$/;

/** How to round when a result has more places than asked for. */
export type RoundingMode = "half_even" | "half_up" | "down" | "up" | "floor" | "ceil";

/** Thrown when a value cannot be read as a decimal. */
export class DecimalError extends Error {
  override name = "DecimalError";
}

/**
 * `n / d` on raw integers, rounded to an integer by `mode`: the one rounding step every
 * {@link Decimal} operation uses, exported for exact wide sums (see `core/money.ts`). Throws
 * {@link DecimalError} when `d` is zero.
 */
export function divRound(n: bigint, d: bigint, mode: RoundingMode): bigint {
  if (d === 0n) throw new DecimalError("Cannot divide by zero");
  if (d < 0n) {
    n = -n;
    d = -d;
  }
  const q = n / d; // truncates toward zero
  const r = n % d;
  if (r === 0n) return q;
  const negative = n < 0n;
  const away = negative ? q - 1n : q + 1n;
  switch (mode) {
    case "down":
      return q;
    case "up":
      return away;
    case "floor":
      return negative ? q - 1n : q;
    case "ceil":
      return negative ? q : q + 1n;
    case "half_up":
    case "half_even": {
      const twice = (r < 0n ? -r : r) * 2n;
      if (twice > d) return away;
      if (twice < d) return q;
      if (mode === "half_up") return away;
      return q % 2n === 0n ? q : away;
    }
  }
}

/** An exact decimal with nine fixed places. Immutable. */
export class Decimal {
  /** The value in nano-units: `Decimal.parse("1").units === 1_000_000_000n`. */
  readonly units: bigint;

  private constructor(units: bigint) {
    this.units = units;
  }

  /** Zero. */
  static readonly ZERO: Decimal = new Decimal(0n);
  /** One. */
  static readonly ONE: Decimal = new Decimal(ONE_UNITS);

  /** Wraps a raw nano-unit count. */
  static fromUnits(units: bigint): Decimal {
    return new Decimal(units);
  }

  /** An integer value, e.g. `Decimal.int(100)`. Throws on a non-integer. */
  static int(n: number | bigint): Decimal {
    if (typeof n === "number" && !Number.isSafeInteger(n)) {
      throw new DecimalError(`Cannot make an integer decimal from ${n}`);
    }
    return new Decimal(BigInt(n) * ONE_UNITS);
  }

  /**
   * Reads a decimal string (or a finite number, via its shortest round-trip text).
   * Throws {@link DecimalError} on anything else, or on more than nine decimal places unless
   * `round` is given.
   */
  static parse(value: string | number | Decimal, round?: RoundingMode): Decimal {
    if (value instanceof Decimal) return value;
    let text: string;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new DecimalError(`Cannot read ${value} as a decimal`);
      text = numberToPlain(value);
    } else {
      text = value.trim();
    }
    const m = DECIMAL_RE.exec(text);
    if (!m) throw new DecimalError(`Cannot read "${String(value)}" as a decimal`);
    const sign = m[1] ?? m[4] ?? "";
    const intPart = m[2] ?? "0";
    const frac = m[3] ?? m[5] ?? "";
    if (frac.length > SCALE && /[1-9]/.test(frac.slice(SCALE))) {
      if (!round) {
        throw new DecimalError(
          `Cannot read "${String(value)}" as a decimal: more than ${SCALE} decimal places`,
        );
      }
      const all = BigInt(intPart + frac);
      const step = 10n ** BigInt(frac.length - SCALE);
      return new Decimal(divRound(sign === "-" ? -all : all, step, round));
    }
    const units = BigInt(intPart) * ONE_UNITS + BigInt(frac.slice(0, SCALE).padEnd(SCALE, "0"));
    return new Decimal(sign === "-" ? -units : units);
  }

  /** Like {@link Decimal.parse} but answers `null` instead of throwing. */
  static tryParse(value: string | number): Decimal | null {
    try {
      return Decimal.parse(value);
    } catch {
      return null;
    }
  }

  /** The smaller of two decimals. */
  static min(a: Decimal, b: Decimal): Decimal {
    return a.units <= b.units ? a : b;
  }

  /** The larger of two decimals. */
  static max(a: Decimal, b: Decimal): Decimal {
    return a.units >= b.units ? a : b;
  }

  /** Sum of many decimals. */
  static sum(values: Iterable<Decimal>): Decimal {
    let u = 0n;
    for (const v of values) u += v.units;
    return new Decimal(u);
  }

  add(other: Decimal): Decimal {
    return new Decimal(this.units + other.units);
  }

  sub(other: Decimal): Decimal {
    return new Decimal(this.units - other.units);
  }

  /** Product, rounded to nine places. */
  mul(other: Decimal, mode: RoundingMode = "half_even"): Decimal {
    return new Decimal(divRound(this.units * other.units, ONE_UNITS, mode));
  }

  /** Quotient, rounded to nine places. Throws on division by zero. */
  div(other: Decimal, mode: RoundingMode = "half_even"): Decimal {
    return new Decimal(divRound(this.units * ONE_UNITS, other.units, mode));
  }

  neg(): Decimal {
    return new Decimal(-this.units);
  }

  abs(): Decimal {
    return this.units < 0n ? new Decimal(-this.units) : this;
  }

  /** -1, 0 or 1. */
  sign(): -1 | 0 | 1 {
    return this.units === 0n ? 0 : this.units < 0n ? -1 : 1;
  }

  isZero(): boolean {
    return this.units === 0n;
  }

  isNegative(): boolean {
    return this.units < 0n;
  }

  isPositive(): boolean {
    return this.units > 0n;
  }

  /** True when the value has no fractional part. */
  isInteger(): boolean {
    return this.units % ONE_UNITS === 0n;
  }

  cmp(other: Decimal): -1 | 0 | 1 {
    return this.units === other.units ? 0 : this.units < other.units ? -1 : 1;
  }

  eq(other: Decimal): boolean {
    return this.units === other.units;
  }

  lt(other: Decimal): boolean {
    return this.units < other.units;
  }

  lte(other: Decimal): boolean {
    return this.units <= other.units;
  }

  gt(other: Decimal): boolean {
    return this.units > other.units;
  }

  gte(other: Decimal): boolean {
    return this.units >= other.units;
  }

  /** Rounds to `places` decimal places (0 to 9). */
  round(places: number, mode: RoundingMode = "half_even"): Decimal {
    if (!Number.isInteger(places) || places < 0 || places > SCALE) {
      throw new DecimalError(`Cannot round to ${places} places`);
    }
    const step = 10n ** BigInt(SCALE - places);
    return new Decimal(divRound(this.units, step, mode) * step);
  }

  /** How many decimal places the value needs (0 to 9). */
  decimalPlaces(): number {
    let frac = this.units % ONE_UNITS;
    if (frac < 0n) frac = -frac;
    if (frac === 0n) return 0;
    let places = SCALE;
    while (frac % 10n === 0n) {
      frac /= 10n;
      places--;
    }
    return places;
  }

  /** Canonical text: no exponent, no trailing zeros, `"0"` for zero. */
  toString(): string {
    const negative = this.units < 0n;
    const abs = negative ? -this.units : this.units;
    const int = abs / ONE_UNITS;
    const frac = (abs % ONE_UNITS).toString().padStart(SCALE, "0").replace(/0+$/, "");
    return `${negative ? "-" : ""}${int}${frac ? "." + frac : ""}`;
  }

  /** Text with exactly `places` decimals (rounded half-even). */
  toFixed(places: number): string {
    const r = this.round(places);
    const negative = r.units < 0n;
    const abs = negative ? -r.units : r.units;
    const int = abs / ONE_UNITS;
    const frac = (abs % ONE_UNITS).toString().padStart(SCALE, "0").slice(0, places);
    return `${negative && abs !== 0n ? "-" : ""}${int}${places > 0 ? "." + frac : ""}`;
  }

  /** A float approximation, for indicators and display only, never for the ledger. */
  toNumber(): number {
    return Number(this.toString());
  }

  toJSON(): string {
    return this.toString();
  }
}

/** Plain (non-exponent) text of a finite number, via its shortest round-trip form. */
function numberToPlain(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  const [mant = "0", expText = "0"] = s.toLowerCase().split("e");
  const exp = Number(expText);
  const negative = mant.startsWith("-");
  const digits = mant.replace(/^[-+]/, "");
  const [ip = "0", fp = ""] = digits.split(".");
  const all = ip + fp;
  const point = ip.length + exp;
  let out: string;
  if (point <= 0) out = "0." + "0".repeat(-point) + all;
  else if (point >= all.length) out = all + "0".repeat(point - all.length);
  else out = all.slice(0, point) + "." + all.slice(point);
  return (negative ? "-" : "") + out;
}

/** Shorthand for {@link Decimal.parse}. */
export function dec(value: string | number | Decimal): Decimal {
  return Decimal.parse(value);
}
