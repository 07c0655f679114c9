/**
 * @pgsim/bench/internals: nothing beyond the public entry yet; the subpath exists so that every
 * pgsim package has the same two entry points.
 *
 * Models: pgsim only.
 */

export {};
