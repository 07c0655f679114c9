/**
 * PostgreSQL's compile-time constants, defined once at the lowest package that needs them:
 * the block size. Higher packages import it from here (@pgsim/buffer-manager re-exports it;
 * @pgsim/heap-am's include/pg-config.ts collects it with the constants of its own level).
 *
 * Models: src/include/pg_config.h (BLCKSZ, chosen by configure --with-blocksize).
 * Entry points: `BLCKSZ`.
 * See also: access-strategy.ts (ring sizes in blocks), @pgsim/buffer-manager md.ts (RELSEG_SIZE).
 */

/** Bytes in a block (BLCKSZ). pgsim supports only PostgreSQL's default, 8192. */
export const BLCKSZ = 8192;
