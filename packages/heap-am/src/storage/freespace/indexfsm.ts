/**
 * The free space map of an index: which blocks of the index are free to reuse. It is the ordinary
 * FSM fork, used with two values only: a free page has the top category (255, "all of it is free")
 * and a page in use has 0.
 *
 * Models: src/backend/storage/freespace/indexfsm.c (GetFreeIndexPage, RecordFreeIndexPage,
 * RecordUsedIndexPage, IndexFreeSpaceMapVacuum).
 * Entry points: `getFreeIndexPage`, `recordFreeIndexPage`, `recordUsedIndexPage`,
 * `indexFreeSpaceMapVacuum`.
 * See also: freespace.ts (the map itself), ../../access/nbtree/nbtvacuum.ts (VACUUM records deleted
 * pages here; btGetFreePage takes them back).
 */

import type { RelFileLocator } from "@pgsim/buffer-manager";
import { InvalidBlockNumber } from "../../include/access/htup-details.js";
import { BLCKSZ } from "../../include/pg-config.js";
import type { FreeSpaceMap } from "./freespace.js";

/**
 * GetFreeIndexPage: a block the index's FSM says is free (a search for half a page, which only
 * the free category satisfies), marked used at once so that nobody else gets it; or
 * InvalidBlockNumber. The caller must still check that the page really is reusable.
 */
export function getFreeIndexPage(fsm: FreeSpaceMap, rel: RelFileLocator): number {
  const blkno = fsm.getPageWithFreeSpace(rel, BLCKSZ / 2);
  if (blkno !== InvalidBlockNumber) recordUsedIndexPage(fsm, rel, blkno);
  return blkno;
}

/** RecordFreeIndexPage: `blkno` is free (category 255). */
export function recordFreeIndexPage(fsm: FreeSpaceMap, rel: RelFileLocator, blkno: number): void {
  fsm.recordPageWithFreeSpace(rel, blkno, BLCKSZ - 1);
}

/** RecordUsedIndexPage: `blkno` is in use (category 0). */
export function recordUsedIndexPage(fsm: FreeSpaceMap, rel: RelFileLocator, blkno: number): void {
  fsm.recordPageWithFreeSpace(rel, blkno, 0);
}

/** IndexFreeSpaceMapVacuum: brings the map's upper levels up to date (FreeSpaceMapVacuum). */
export function indexFreeSpaceMapVacuum(fsm: FreeSpaceMap, rel: RelFileLocator): void {
  fsm.vacuum(rel);
}
