/**
 * Loads the PostgreSQL 15 heap fixtures (test/fixtures/pg15-heap at the repository root) for
 * tests. A missing fixture directory throws, so the tests that use it fail instead of silently
 * testing nothing.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The fixture set's directory (test/fixtures/pg15-heap), relative to this file's folder. */
export const FIXTURES_DIR = fileURLToPath(
  new URL("../../../test/fixtures/pg15-heap", import.meta.url),
);

/** The number of cases the set holds (index.json); a different count means a different set. */
export const EXPECTED_CASE_COUNT = 11;

/** One case folder. */
export interface FixtureCase {
  readonly name: string;
  readonly dir: string;
  /** Path of a file in the case folder. */
  path(file: string): string;
  /** Bytes of a file in the case folder. */
  bytes(file: string): Uint8Array;
  /** Parsed JSON of a file in the case folder. */
  json<T = unknown>(file: string): T;
  /** Whether the case has this file (fsm.bin, vm.bin, forks.json exist only where forks do). */
  has(file: string): boolean;
}

/** The case folders, in name order. Throws when the fixture set is missing. */
export function fixtureCases(): FixtureCase[] {
  if (!existsSync(FIXTURES_DIR)) {
    throw new Error(`PostgreSQL 15 fixtures not found at ${FIXTURES_DIR}`);
  }
  const names = readdirSync(FIXTURES_DIR, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && /^\d\d-/.test(entry.name))
    .map((entry) => entry.name)
    .sort();
  if (names.length === 0) throw new Error(`no fixture cases in ${FIXTURES_DIR}`);
  return names.map((name) => {
    const dir = `${FIXTURES_DIR}/${name}`;
    const path = (file: string) => `${dir}/${file}`;
    return {
      name,
      dir,
      path,
      bytes: (file) => {
        const data = readFileSync(path(file));
        return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      },
      json: (file) => JSON.parse(readFileSync(path(file), "utf8")),
      has: (file) => existsSync(path(file)),
    };
  });
}

/** A fixture case by name (e.g. "07-vacuum-pruned"). */
export function fixtureCase(name: string): FixtureCase {
  const found = fixtureCases().find((c) => c.name === name);
  if (found === undefined) throw new Error(`fixture case ${name} not found`);
  return found;
}

/** A private, writable copy of block `block` of a fork file. */
export function pageCopy(file: Uint8Array, block: number): Uint8Array {
  return file.slice(block * 8192, (block + 1) * 8192);
}

// The shapes of the fixture JSON this package's tests read.

export interface PagesJson {
  blocks: Array<{
    block: number;
    header: Record<string, unknown>;
    items: Array<{ lp: number; lp_off: number; lp_flags: number; lp_len: number }>;
  }>;
}

export interface ChecksumJsonRow {
  block: number;
  stored: number;
  stored_hex: string;
  computed?: number;
  matches?: boolean;
  is_new: boolean;
  computed_if_block?: Record<string, number>;
}

export type ChecksumsJson = Partial<Record<"main" | "fsm" | "vm", ChecksumJsonRow[]>>;

export interface ForksJson {
  fsm?: {
    blocks: number;
    pages: Array<{ block: number; header: Record<string, unknown>; fsm_page_contents: string }>;
    pg_freespace: Array<{ blkno: number; avail: number }>;
  };
  vm?: {
    blocks: number;
    pages: Array<{ block: number; header: Record<string, unknown>; vm_bytes_hex: string }>;
    pg_visibility_map: Array<{ blkno: number; all_visible: boolean; all_frozen: boolean }>;
  };
}

export interface CaseJson {
  blocks: { main: number; fsm: number; vm: number };
  columns: unknown[];
}
