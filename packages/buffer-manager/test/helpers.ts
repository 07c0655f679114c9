import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import {
  type BufferPool,
  type BufferPoolOptions,
  type BufferPoolVariant,
  createBufferPool,
  type RelFileLocator,
} from "../src/index.js";

/** Both variants, for tests that must hold for each (the variant goes in the test's name). */
export const VARIANTS: BufferPoolVariant[] = ["disk", "memory"];

export const REL: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 16384 };
export const REL2: RelFileLocator = { spcOid: 1663, dbOid: 5, relNumber: 16385 };

const dirs: string[] = [];

export function tempDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-bm-"));
  dirs.push(d);
  return d;
}

export function removeTempDirs(): void {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

export function makePool(
  variant: BufferPoolVariant,
  bufferCount: number,
  extra: Partial<BufferPoolOptions> = {},
): BufferPool {
  return createBufferPool({
    variant,
    bufferCount,
    ...(variant === "disk" ? { dataDir: tempDir() } : {}),
    ...extra,
  });
}

/** Appends a block whose first bytes say which block it is, and returns its number. */
export function extendWith(pool: BufferPool, rel: RelFileLocator, fill: number): number {
  const buf = pool.extend(rel, 0);
  pool.lockBuffer(buf, "exclusive");
  const page = pool.bufferGetPage(buf);
  page.fill(fill & 0xff, 0, 64);
  pool.markBufferDirty(buf);
  const block = pool.bufferGetBlockNumber(buf);
  pool.unlockReleaseBuffer(buf);
  return block;
}

export function readFirstByte(pool: BufferPool, rel: RelFileLocator, block: number): number {
  const buf = pool.readBuffer(rel, 0, block);
  pool.lockBuffer(buf, "share");
  const v = pool.bufferGetPage(buf)[0]!;
  pool.unlockReleaseBuffer(buf);
  return v;
}
