/**
 * @pgsim/clock-sweep — PostgreSQL 15's buffer replacement (freelist.c).
 */
export { AssertionError, assert, PgsimError } from "./errors.js";
