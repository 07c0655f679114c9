/**
 * The typed error every pgsim package throws for bad input or an exhausted resource.
 *
 * Models: PostgreSQL's ereport(ERROR, errcode(...), errmsg(...)). The `code` is stable and meant for
 * programs; the message is for people and, where PostgreSQL has one, is PostgreSQL's own wording.
 *
 * See also: docs/STYLE.md "Failures come in three kinds, never mixed".
 */

/**
 * An error a caller is expected to handle: bad input, or a resource that ran out.
 *
 * @example
 * ```ts
 * try { pool.releaseBuffer(bufferId); }
 * catch (e) { if (e instanceof PgsimError && e.code === "buffer-not-pinned") { ... } }
 * ```
 */
export class PgsimError extends Error {
  /** A stable, kebab-case identifier for the kind of failure. */
  readonly code: string;
  /** Extra, machine-readable facts about the failure (buffer id, block number, ...). */
  readonly detail: Readonly<Record<string, unknown>> | undefined;

  constructor(code: string, message: string, detail?: Record<string, unknown>) {
    super(message);
    this.name = "PgsimError";
    this.code = code;
    this.detail = detail;
  }
}

/**
 * A broken invariant: a bug in pgsim, never an expected outcome. In a worker it ends that backend.
 */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

/** Throws an AssertionError when `condition` is false. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}
