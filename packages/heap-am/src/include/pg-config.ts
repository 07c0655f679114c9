/**
 * PostgreSQL's compile-time constants, in one place for all of heap-am: the block and segment
 * sizes (defined once below, in @pgsim/clock-sweep and @pgsim/buffer-manager, and re-exported
 * here) and the alignment of the platform PostgreSQL's on-disk format was written on.
 *
 * Models: src/include/pg_config.h (BLCKSZ, RELSEG_SIZE, MAXIMUM_ALIGNOF) as configured for
 * x86-64 with the default block size.
 * Entry points: `BLCKSZ`, `RELSEG_SIZE`, `MAXIMUM_ALIGNOF`.
 * See also: access/htup-details.ts (MAXALIGN and the sizes derived from these),
 * ../storage/page/bufpage.ts (the page layout).
 */

export { BLCKSZ, RELSEG_SIZE } from "@pgsim/buffer-manager";

/** MAXIMUM_ALIGNOF on x86-64: every tuple starts at, and t_hoff is, a multiple of 8. */
export const MAXIMUM_ALIGNOF = 8;
