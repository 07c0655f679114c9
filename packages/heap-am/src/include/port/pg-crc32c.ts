/**
 * CRC-32C for the WAL and pg_control code of this package: pgsim's one implementation, in
 * @pgsim/buffer-manager (its pg-crc32c.ts, slicing-by-8 as src/port/pg_crc32c_sb8.c), re-exported
 * under PostgreSQL's header path.
 *
 * Models: src/include/port/pg_crc32c.h (INIT_CRC32C, COMP_CRC32C, FIN_CRC32C).
 * Entry points: `INIT_CRC32C`, `crc32cUpdate`, `crc32cUpdateWords`, `crc32cFinish`, `crc32c`.
 */

export {
  crc32c,
  crc32cFinish,
  crc32cUpdate,
  crc32cUpdateWords,
  INIT_CRC32C,
} from "@pgsim/buffer-manager";
