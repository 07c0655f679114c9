/**
 * Internals other packages and tests may need: layout constants, the table, locks, storage.
 *
 * Models: pgsim only (everything, for other pgsim packages and tests).
 */
export * from "./buf-internals.js";
export { BufTable, bufTableInts } from "./buf-table.js";
export * from "./buf-tag.js";
export { RelationBlockCounter } from "./buf-usage.js";
export * from "./index.js";
export * from "./lwlock.js";
export { MdStorage } from "./md.js";
export { RelSizeTable } from "./rel-sizes.js";
