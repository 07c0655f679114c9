/**
 * `@pgsim/clock-sweep/internals`: what the packages built on this one (buffer-manager) may use
 * beyond the public entry point. Today that is the public entry point itself.
 *
 * Models: pgsim only (a packaging boundary).
 * Entry points: everything index.ts exports.
 * See also: index.ts.
 */
export * from "./index.js";
