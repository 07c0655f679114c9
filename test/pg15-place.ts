/**
 * Putting pgsim's table files under a real PostgreSQL 15 table, with the commit-log state
 * PostgreSQL needs to read them: the helper behind the tests that check pgsim's files with
 * amcheck (verify_heapam) and pg_visibility.
 *
 * The xids. pgsim's tables must hold only xids the cluster never used itself: the pgsim side
 * starts its xid counter past the cluster's next xid (`pgNextXid`, read before pgsim runs). Then
 * the cluster consumes xids (committed, empty transactions) until its next xid is past pgsim's
 * last, and, with the server stopped, each pgsim xid's status (committed, aborted, or 0 for one
 * that crashed in flight) is copied from pgsim's pg_xact into the cluster's. Each table's
 * pg_class.relfrozenxid is set to pgsim's.
 */

import * as fs from "node:fs";
import * as path from "node:path";
import type { PgCluster } from "@pgsim/bench";

const CLOG_XACTS_PER_SEGMENT = 32 * 8192 * 4;

/** A clog segment file's name: four upper-case hex digits. */
export function clogSegmentName(segno: number): string {
  return segno.toString(16).toUpperCase().padStart(4, "0");
}

/** The pg_xact segments of a data directory. */
export function readClog(dataDir: string): Map<number, Buffer> {
  const dir = path.join(dataDir, "pg_xact");
  const segments = new Map<number, Buffer>();
  for (const name of fs.readdirSync(dir)) {
    if (/^[0-9A-F]{4}$/.test(name)) {
      segments.set(Number.parseInt(name, 16), fs.readFileSync(path.join(dir, name)));
    }
  }
  return segments;
}

/** The 2-bit status of `xid` (0 in progress or crashed, 1 committed, 2 aborted). */
export function clogStatus(segments: Map<number, Buffer>, xid: number): number {
  const seg = segments.get(Math.floor(xid / CLOG_XACTS_PER_SEGMENT));
  const within = xid % CLOG_XACTS_PER_SEGMENT;
  const byte = seg?.[within >> 2];
  if (byte === undefined) return 0;
  return (byte >> ((within & 3) * 2)) & 3;
}

/** Sets the 2-bit status of `xid` in loaded segments. */
export function setClogStatus(segments: Map<number, Buffer>, xid: number, status: number): void {
  const seg = segments.get(Math.floor(xid / CLOG_XACTS_PER_SEGMENT));
  if (seg === undefined) throw new Error(`pg_xact has no segment for xid ${xid}`);
  const within = xid % CLOG_XACTS_PER_SEGMENT;
  const shift = (within & 3) * 2;
  seg[within >> 2] = (seg[within >> 2]! & ~(3 << shift)) | (status << shift);
}

/** One table to place: its name in both systems and pgsim's relfilenode and relfrozenxid. */
export interface PlacedTable {
  readonly name: string;
  readonly relNumber: number;
  readonly relfrozenxid: number;
}

/**
 * Places pgsim's files of `tables` (main fork segments, FSM, VM) over the cluster's tables of the
 * same names, and the statuses of xids [firstXid, nextXid) into its commit log; restarts it.
 * The cluster's tables must exist, empty, with the same columns.
 */
export async function placeUnderPostgres(
  pg: PgCluster,
  pgsimDataDir: string,
  tables: readonly PlacedTable[],
  xids: { readonly firstXid: number; readonly nextXid: number },
): Promise<void> {
  await pg.psql(
    `DO $$ DECLARE x bigint; BEGIN LOOP x := txid_current(); COMMIT; ` +
      `EXIT WHEN x >= ${xids.nextXid - 1}; END LOOP; END $$`,
  );
  const mainForks: string[] = [];
  for (const t of tables) {
    await pg.psql(
      `UPDATE pg_class SET relfrozenxid = '${t.relfrozenxid}'::xid WHERE oid = '${t.name}'::regclass`,
    );
    mainForks.push(await pg.relationFilePath(t.name));
  }
  await pg.psql("CHECKPOINT");
  await pg.stopServer("fast");
  const { uid, gid } = fs.statSync(pg.dataDir);
  tables.forEach((t, i) => {
    const mainFork = mainForks[i]!;
    for (const suffix of ["_fsm", "_vm"]) fs.rmSync(`${mainFork}${suffix}`, { force: true });
    const sourceDir = path.join(pgsimDataDir, "base", "5");
    for (const name of fs.readdirSync(sourceDir)) {
      const match = new RegExp(`^${t.relNumber}(_fsm|_vm)?(\\.\\d+)?$`).exec(name);
      if (match === null) continue;
      const target = `${mainFork}${match[1] ?? ""}${match[2] ?? ""}`;
      fs.copyFileSync(path.join(sourceDir, name), target);
      fs.chownSync(target, uid, gid);
    }
  });
  const pgsimClog = readClog(pgsimDataDir);
  const pgClog = readClog(pg.dataDir);
  for (let xid = xids.firstXid; xid < xids.nextXid; xid++) {
    setClogStatus(pgClog, xid, clogStatus(pgsimClog, xid));
  }
  for (const [segno, bytes] of pgClog) {
    fs.writeFileSync(path.join(pg.dataDir, "pg_xact", clogSegmentName(segno)), bytes);
  }
  await pg.startServer();
}
