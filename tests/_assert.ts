/**
 * Small assertion helpers (Deno's std/assert lives on JSR, which this machine cannot reach).
 *
 * @module
 */
import { inspect, isDeepStrictEqual } from "node:util";

/** Thrown by a failed assertion. */
export class AssertionError extends Error {
  override name = "AssertionError";
}

/** Fails unless `cond` is truthy. */
export function assert(cond: unknown, message = "Assertion failed"): asserts cond {
  if (!cond) throw new AssertionError(message);
}

/** Fails unless the two values are deeply, strictly equal. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new AssertionError(
      `${message ? message + "\n" : ""}Values differ\nactual:   ${
        inspect(actual, { depth: 6 })
      }\nexpected: ${inspect(expected, { depth: 6 })}`,
    );
  }
}

/** Fails if the two values are deeply equal. */
export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  if (isDeepStrictEqual(actual, expected)) {
    throw new AssertionError(message ?? `Values are equal: ${inspect(actual)}`);
  }
}

/** Fails unless `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, message?: string): void {
  if (!text.includes(part)) {
    throw new AssertionError(message ?? `Expected ${inspect(text)} to include ${inspect(part)}`);
  }
}

/** Fails unless the function throws (optionally an instance of `type`); answers the error. */
export function assertThrows<E extends Error = Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): E {
  try {
    fn();
  } catch (e) {
    if (type && !(e instanceof type)) {
      throw new AssertionError(`Expected ${type.name}, got ${inspect(e)}`);
    }
    if (includes && !String((e as Error).message).includes(includes)) {
      throw new AssertionError(
        `Expected message to include ${inspect(includes)}: ${(e as Error).message}`,
      );
    }
    return e as E;
  }
  throw new AssertionError("Expected the function to throw");
}

/** Fails unless the promise rejects (optionally with an instance of `type`); answers the error. */
export async function assertRejects<E extends Error = Error>(
  fn: () => PromiseLike<unknown>,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (e) {
    if (type && !(e instanceof type)) {
      throw new AssertionError(`Expected ${type.name}, got ${inspect(e)}`);
    }
    if (includes && !String((e as Error).message).includes(includes)) {
      throw new AssertionError(
        `Expected message to include ${inspect(includes)}: ${(e as Error).message}`,
      );
    }
    return e as E;
  }
  throw new AssertionError("Expected the promise to reject");
}
