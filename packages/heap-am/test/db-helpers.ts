import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Database, type DatabaseOptions } from "../src/index.js";

/** The two built-in AMs with the buffer-pool variant each runs on (the AM goes in test names). */
export const HEAP_AMS = [
  { am: "heap", variant: "disk" },
  { am: "memheap", variant: "memory" },
] as const;

const dirs: string[] = [];

/** A new database of the given variant; disk-backed ones get a temporary data directory. */
export function makeDb(
  variant: "disk" | "memory",
  bufferCount: number,
  extra: Partial<DatabaseOptions> = {},
): Database {
  let dataDir: string | undefined;
  if (variant === "disk") {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-heap-"));
    dirs.push(dataDir);
  }
  return Database.create({ variant, bufferCount, ...(dataDir ? { dataDir } : {}), ...extra });
}

export function removeDbDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export const ACCOUNTS = [
  { name: "aid", type: "int4", notNull: true },
  { name: "abalance", type: "int4", notNull: true },
];
