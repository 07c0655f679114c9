// PostgreSQL 15's own tools read the WAL and the control file pgsim writes, and pgsim writes the
// same bytes PostgreSQL 15 writes:
//
// 1. pgsim writes a WAL directory with thousands of records (heap inserts on pages built by
//    pgsim, commits, checkpoints, full-page images with and without holes, long and multi-page
//    records, a record header split across pages, a record ending exactly at a page end, a
//    switch, records crossing segment boundaries) over three 16 MB segments; pg_waldump reads
//    every record to the end of the WAL and prints, line for line, what pgsim says it wrote —
//    also with -b (block references with their holes).
// 2. pg_controldata reads pgsim's global/pg_control: state, checkpoint and REDO locations, next
//    xid, checksum version and the rest agree.
// 3. A private PostgreSQL 15 inserts rows; pgsim reads that server's WAL and pg_control, then
//    builds the same INSERT+INIT, INSERT-with-full-page-image and COMMIT records from the same
//    inputs at the same WAL positions: byte for byte identical, CRCs included.
//
// PostgreSQL 15 is required: these tests never skip; without it they fail saying how to install.

import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { PG15_BIN_DIR, type PgCluster } from "@pgsim/bench";
import { mulberry32 as prng } from "@pgsim/clock-sweep";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { heapFormTuple } from "../packages/heap-am/src/access/common/heaptuple.js";
import { createTupleDesc } from "../packages/heap-am/src/access/common/tupdesc.js";
import { logHeapInsert } from "../packages/heap-am/src/access/heap/heapam-xlog.js";
import {
  bootstrapControlFile,
  type CheckPoint,
  type ControlFileData,
  DBState,
  decodeControlFile,
  encodeCheckPoint,
  encodeControlFile,
  writeControlFile,
  XLOG_CHECKPOINT_ONLINE,
  XLOG_CHECKPOINT_SHUTDOWN,
  XLOG_FPI,
  XLOG_NOOP,
  XLOG_SWITCH,
} from "../packages/heap-am/src/access/transam/pg-control.js";
import { RM_HEAP_ID, RM_XACT_ID, RM_XLOG_ID } from "../packages/heap-am/src/access/transam/rmgr.js";
import {
  parseXactCompletion,
  xactLogCommitRecord,
} from "../packages/heap-am/src/access/transam/xact-xlog.js";
import { type XLogInsertResult, XLogWriter } from "../packages/heap-am/src/access/transam/xlog.js";
import {
  formatWalDumpRecord,
  rmgrIdentify,
} from "../packages/heap-am/src/access/transam/xlog-desc.js";
import {
  type AssembledRecord,
  XLOG_BLCKSZ,
  xlByteToSeg,
  xlogFileName,
  xlogRecPtrToBytePos,
} from "../packages/heap-am/src/access/transam/xlog-internal.js";
import { formatLsn, parseLsn } from "../packages/heap-am/src/access/transam/xlogdefs.js";
import {
  REGBUF_FORCE_IMAGE,
  REGBUF_STANDARD,
  XLogInsertState,
} from "../packages/heap-am/src/access/transam/xloginsert.js";
import {
  type DecodedXLogRecord,
  decodeXLogRecord,
  XLogReader,
} from "../packages/heap-am/src/access/transam/xlogreader.js";
import { decodeXlHeapInsert } from "../packages/heap-am/src/include/access/heapam-xlog.js";
import {
  HEAP_XMAX_INVALID,
  heapTupleHeaderSetCtid,
  heapTupleHeaderSetInfomask,
  heapTupleHeaderSetXmin,
} from "../packages/heap-am/src/include/access/htup-details.js";
import { hexToBytes } from "../packages/heap-am/src/include/port/le-bytes.js";
import {
  PAI_IS_HEAP,
  pageAddItemExtended,
  pageGetLsn,
  pageInit,
  pageSetLsn,
} from "../packages/heap-am/src/storage/page/bufpage.js";
import { startPg15 } from "./pg15-peer.js";

const SEG = 16 * 1024 * 1024;
const binDir = process.env.PGSIM_PG_BIN_DIR ?? PG15_BIN_DIR;

/** A PostgreSQL 15 tool, or a loud failure: these tests never skip. */
function pgTool(name: string): string {
  const file = path.join(binDir, name);
  if (!fs.existsSync(file)) {
    throw new Error(
      `this test needs PostgreSQL 15's ${name} (${file} does not exist) and never skips: ` +
        "install it with `apt-get install postgresql-15`, or set PGSIM_PG_BIN_DIR",
    );
  }
  return file;
}

function run(
  tool: string,
  args: string[],
): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(pgTool(tool), args, {
    encoding: "utf8",
    env: { ...process.env, TZ: "UTC", LC_ALL: "C", LANG: "C" },
    maxBuffer: 512 << 20,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});
function tmpDir(): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-wal-pg15-"));
  tmpDirs.push(d);
  return d;
}

/** Every record the writer places, captured as inserted (bytes final: xl_prev and CRC set). */
interface Written {
  readonly record: DecodedXLogRecord;
  readonly result: XLogInsertResult;
}

function captureInserts(wal: XLogWriter): Written[] {
  const written: Written[] = [];
  const insertRecord = wal.insertRecord.bind(wal);
  wal.insertRecord = (rec: AssembledRecord) => {
    const result = insertRecord(rec);
    if (result.inserted) {
      written.push({ record: decodeXLogRecord(rec.bytes.slice(), result.startLsn), result });
    }
    return result;
  };
  return written;
}

// ---------------------------------------------------------------------------------------------
// 1 and 2: a pgsim WAL directory and control file, read by pg_waldump and pg_controldata.

describe("pg_waldump and pg_controldata read what pgsim writes", () => {
  const dataDir = path.join(tmpDir(), "data");
  const walDir = path.join(dataDir, "pg_wal");
  const systemIdentifier = 0x7000_1234_5678_9abcn;
  let written: Written[] = [];
  let endOfWal = 0n;
  let lastCheckpoint: { lsn: bigint; cp: CheckPoint } | undefined;
  let control: ControlFileData | undefined;
  const facts = {
    splitHeader: 0,
    endsAtPageEnd: 0,
    crossesSegment: 0,
    fpiWithHole: 0,
    fpiWithoutHole: 0,
    longMainData: 0,
    multiPage: 0,
    switches: 0,
    insertInit: 0,
    inserts: 0,
    commits: 0,
  };

  beforeAll(() => {
    const rand = prng(20240613);
    const wal = XLogWriter.open({ walDir, systemIdentifier, startLsn: 0x1000028n });
    written = captureInserts(wal);
    const ins = new XLogInsertState();
    const boot = bootstrapControlFile({ systemIdentifier, time: 1_760_000_000n });
    let nextXid = 730;
    let nextOid = 16400;

    const checkpoint = (info: number): void => {
      const redo = wal.getInsertRecPtr();
      wal.setRedoRecPtr(redo);
      const cp: CheckPoint = {
        ...boot.checkPointCopy,
        redo,
        nextXid: BigInt(nextXid),
        nextOid,
        time: 1_760_000_000n + BigInt(written.length),
        oldestActiveXid: info === XLOG_CHECKPOINT_ONLINE ? nextXid : 0,
      };
      ins.beginInsert();
      ins.registerData(encodeCheckPoint(cp));
      const r = ins.insert(wal, RM_XLOG_ID, info);
      wal.flush(r.endLsn);
      lastCheckpoint = { lsn: r.startLsn, cp };
    };
    const noop = (len: number) => {
      ins.beginInsert();
      if (len > 0) ins.registerData(new Uint8Array(len).map((_, i) => (i * 13 + len) & 0xff));
      return ins.insert(wal, RM_XLOG_ID, XLOG_NOOP);
    };
    /** One NOOP that makes the next record start exactly at `target`. */
    const padTo = (target: bigint) => {
      const gap =
        xlogRecPtrToBytePos(target, SEG) - xlogRecPtrToBytePos(wal.getInsertRecPtr(), SEG);
      if (gap === 0) return;
      if (gap < 24 || gap % 8 !== 0) throw new Error(`cannot pad by ${gap} bytes`);
      noop(gap === 24 ? 0 : gap - 24 <= 257 ? gap - 26 : gap - 29);
      expect(wal.getInsertRecPtr()).toBe(target);
    };

    // Three relations, their pages as pgsim builds them.
    const desc = createTupleDesc([
      { name: "id", type: "int4" },
      { name: "note", type: "text" },
    ]);
    const rels = [16384, 16385, 16386].map((relNumber) => ({
      rel: { spcOid: 1663, dbOid: 5, relNumber },
      pages: [] as Uint8Array[],
    }));
    let rowId = 0;
    const insertRow = (xid: number) => {
      const r = rels[Math.floor(rand() * rels.length)]!;
      const tuple = heapFormTuple(desc, [rowId++, "x".repeat(Math.floor(rand() * 300))]);
      heapTupleHeaderSetXmin(tuple, 0, xid);
      heapTupleHeaderSetInfomask(tuple, 0, tuple[20]! | (tuple[21]! << 8) | HEAP_XMAX_INVALID);
      let block = r.pages.length - 1;
      let page = r.pages[block];
      let offnum = page === undefined ? 0 : pageAddItemExtended(page, tuple, 0, PAI_IS_HEAP);
      if (offnum === 0) {
        page = new Uint8Array(8192);
        pageInit(page);
        r.pages.push(page);
        block = r.pages.length - 1;
        offnum = pageAddItemExtended(page, tuple, 0, PAI_IS_HEAP);
      }
      heapTupleHeaderSetCtid(tuple, 0, { block, offset: offnum });
      logHeapInsert(ins, wal, { rel: r.rel, block, page: page!, offnum, tuple, xid });
    };
    /** XLOG_FPI of `n` blocks: standard heap pages (with holes) and full non-standard pages. */
    const fpi = (n: number) => {
      ins.beginInsert();
      for (let id = 0; id < n; id++) {
        const standard = id % 3 !== 2;
        const r = rels[id % rels.length]!;
        let page: Uint8Array;
        if (standard && r.pages.length > 0) {
          page = r.pages[Math.floor(rand() * r.pages.length)]!;
        } else {
          page = new Uint8Array(8192).map((_, i) => (i * 7 + id) & 0xff);
          pageSetLsn(page, 0n);
        }
        ins.registerBuffer(
          id,
          { rel: r.rel, fork: standard ? 0 : 2, block: id, page },
          REGBUF_FORCE_IMAGE | (standard ? REGBUF_STANDARD : 0),
        );
      }
      return ins.insert(wal, RM_XLOG_ID, XLOG_FPI);
    };
    const transaction = () => {
      const xid = nextXid++;
      const rows = 1 + Math.floor(rand() * 12);
      for (let i = 0; i < rows; i++) insertRow(xid);
      const extras = rand();
      const c = xactLogCommitRecord(ins, wal, xid, {
        xactTime: 0x0003_0000_0000_0000n + BigInt(nextXid) * 1_000_003n,
        ...(extras < 0.1 ? { subxacts: [nextXid++, nextXid++] } : {}),
        ...(extras > 0.95 ? { rels: [{ spcOid: 1663, dbOid: 5, relNumber: nextOid++ }] } : {}),
      });
      if (rand() < 0.3) wal.flush(c.endLsn);
    };

    // The first checkpoint sits where initdb's does: 0/1000028, redo = itself.
    checkpoint(XLOG_CHECKPOINT_SHUTDOWN);
    expect(lastCheckpoint?.lsn).toBe(0x1000028n);
    for (let t = 0; t < 150; t++) {
      transaction();
      if (t % 40 === 39) checkpoint(XLOG_CHECKPOINT_ONLINE);
    }
    noop(300); // long main-data header
    noop(20_000); // several pages
    // A record whose 24-byte header is split: it starts 8 bytes before a page end.
    const page1 = (wal.getInsertRecPtr() / 8192n + 2n) * 8192n;
    padTo(page1 - 8n);
    fpi(1);
    // A record that ends exactly at a page end: the next starts after the next page's header.
    const page2 = (wal.getInsertRecPtr() / 8192n + 2n) * 8192n;
    padTo(page2 - 160n);
    noop(160 - 26);
    transaction();
    // Switch to segment 2, then fill it and go into segment 3 with large multi-block images.
    ins.beginInsert();
    ins.insert(wal, RM_XLOG_ID, XLOG_SWITCH);
    expect(wal.getInsertRecPtr()).toBe(0x2000028n);
    for (let t = 0; wal.getInsertRecPtr() < 0x3100000n; t++) {
      transaction();
      if (t % 3 === 0) fpi(1 + Math.floor(rand() * 33));
      if (t % 60 === 59) checkpoint(XLOG_CHECKPOINT_ONLINE);
    }
    checkpoint(XLOG_CHECKPOINT_SHUTDOWN);
    endOfWal = wal.getInsertEndRecPtr();
    wal.close();

    // What the workload contains.
    for (const { record, result } of written) {
      const off = Number(result.startLsn % 8192n);
      const h = record.header;
      if (off > XLOG_BLCKSZ - 24) facts.splitHeader++;
      if (result.endLsn % 8192n === 0n) facts.endsAtPageEnd++;
      if (xlByteToSeg(result.startLsn, SEG) !== xlByteToSeg(result.endLsn - 1n, SEG))
        facts.crossesSegment++;
      if (h.totLen > XLOG_BLCKSZ - off) facts.multiPage++;
      if (record.mainData.length > 255) facts.longMainData++;
      if (h.rmid === RM_XLOG_ID && h.info === XLOG_SWITCH) facts.switches++;
      if (h.rmid === RM_HEAP_ID) facts[h.info === 0x80 ? "insertInit" : "inserts"]++;
      if (h.rmid === RM_XACT_ID) facts.commits++;
      for (const b of record.blocks) {
        if (b.image !== null) facts[b.image.holeLength > 0 ? "fpiWithHole" : "fpiWithoutHole"]++;
      }
    }

    // pg_control after a clean shutdown at the last checkpoint.
    control = writeControlFile(
      dataDir,
      {
        ...boot,
        state: DBState.SHUTDOWNED,
        checkPoint: lastCheckpoint!.lsn,
        checkPointCopy: lastCheckpoint!.cp,
      },
      { time: 1_760_000_500n },
    );
  }, 600_000);

  it("the workload has what the format needs proven", () => {
    expect(facts.splitHeader).toBeGreaterThanOrEqual(1);
    expect(facts.endsAtPageEnd).toBeGreaterThanOrEqual(1);
    expect(facts.crossesSegment).toBeGreaterThanOrEqual(1);
    expect(facts.multiPage).toBeGreaterThan(100);
    expect(facts.fpiWithHole).toBeGreaterThan(100);
    expect(facts.fpiWithoutHole).toBeGreaterThan(100);
    expect(facts.longMainData).toBeGreaterThanOrEqual(2);
    expect(facts.switches).toBe(1);
    expect(facts.insertInit).toBeGreaterThan(10);
    expect(facts.inserts).toBeGreaterThan(1000);
    expect(facts.commits).toBeGreaterThan(300);
    expect(fs.readdirSync(walDir).sort()).toEqual([
      "000000010000000000000001",
      "000000010000000000000002",
      "000000010000000000000003",
    ]);
    for (const f of fs.readdirSync(walDir))
      expect(fs.statSync(path.join(walDir, f)).size).toBe(SEG);
  });

  it("pg_waldump reads every record to the end and prints what pgsim wrote, line for line", () => {
    // From the first segment to the last: pg_waldump reads until the WAL ends.
    const out = run("pg_waldump", [
      "-p",
      walDir,
      "000000010000000000000001",
      "000000010000000000000003",
    ]);
    expect(out.status).toBe(1);
    const last = written.at(-1)!;
    // The only complaint is the end of the WAL, right after pgsim's last record.
    expect(out.stderr.trim()).toBe(
      `pg_waldump: error: error in WAL record at ${formatLsn(last.result.startLsn)}: ` +
        `invalid record length at ${formatLsn(endOfWal)}: wanted 24, got 0`,
    );
    const lines = out.stdout.trimEnd().split("\n");
    const expected = written.map((w) => formatWalDumpRecord(w.record));
    expect(lines.length).toBe(expected.length);
    for (let i = 0; i < expected.length; i++) {
      if (lines[i] !== expected[i])
        expect({ record: i, line: lines[i] }).toEqual({ record: i, line: expected[i] });
    }
  });

  it("pg_waldump -b prints the same block references, holes included", () => {
    const out = run("pg_waldump", [
      "-b",
      "-p",
      walDir,
      "000000010000000000000001",
      "000000010000000000000003",
    ]);
    expect(out.stderr).toMatch(/invalid record length at .*: wanted 24, got 0/);
    const expected = `${written.map((w) => formatWalDumpRecord(w.record, { detailed: true })).join("\n")}\n`;
    const got = out.stdout;
    if (got !== expected) {
      const a = got.split("\n");
      const b = expected.split("\n");
      const i = a.findIndex((line, k) => line !== b[k]);
      expect({ line: i, got: a[i] }).toEqual({ line: i, got: b[i] });
    }
    expect(got).toContain("(FPW); hole: offset: ");
    expect(got).toContain("fork vm blk 2 (FPW); hole: offset: 0, length: 0");
  });

  it("pgsim's reader agrees: same records, the same end", () => {
    const reader = new XLogReader({ walDir, systemIdentifier });
    const { records, end } = reader.readAll(0x1000028n);
    reader.close();
    expect(records.length).toBe(written.length);
    expect(records.every((r, i) => Buffer.compare(r.bytes, written[i]!.record.bytes) === 0)).toBe(
      true,
    );
    expect(end.lsn).toBe(endOfWal);
    expect(end.error?.message).toBe(
      `invalid record length at ${formatLsn(endOfWal)}: wanted 24, got 0`,
    );
  });

  it("pg_controldata reads pgsim's pg_control: state, checkpoint, REDO, next xid agree", () => {
    const out = run("pg_controldata", ["-D", dataDir]);
    expect(out.stderr).toBe("");
    expect(out.status).toBe(0);
    const fields = new Map(
      out.stdout
        .trim()
        .split("\n")
        .map((line) => {
          const i = line.indexOf(":");
          return [line.slice(0, i), line.slice(i + 1).trim()] as const;
        }),
    );
    const c = control!;
    const cp = c.checkPointCopy;
    expect(Object.fromEntries(fields)).toMatchObject({
      "pg_control version number": "1300",
      "Catalog version number": "202209061",
      "Database system identifier": String(systemIdentifier),
      "Database cluster state": "shut down",
      "Latest checkpoint location": formatLsn(c.checkPoint),
      "Latest checkpoint's REDO location": formatLsn(cp.redo),
      "Latest checkpoint's REDO WAL file": "000000010000000000000003",
      "Latest checkpoint's TimeLineID": "1",
      "Latest checkpoint's PrevTimeLineID": "1",
      "Latest checkpoint's full_page_writes": "on",
      "Latest checkpoint's NextXID": `0:${cp.nextXid}`,
      "Latest checkpoint's NextOID": String(cp.nextOid),
      "Latest checkpoint's NextMultiXactId": "1",
      "Latest checkpoint's oldestXID": "3",
      "Latest checkpoint's oldestXID's DB": "1",
      "Latest checkpoint's oldestActiveXID": "0",
      "Fake LSN counter for unlogged rels": "0/3E8",
      "Minimum recovery ending location": "0/0",
      "wal_level setting": "replica",
      "max_connections setting": "100",
      "Maximum data alignment": "8",
      "Database block size": "8192",
      "Blocks per segment of large relation": "131072",
      "WAL block size": "8192",
      "Bytes per WAL segment": "16777216",
      "Maximum length of identifiers": "64",
      "Maximum columns in an index": "32",
      "Maximum size of a TOAST chunk": "1996",
      "Size of a large-object chunk": "2048",
      "Date/time type storage": "64-bit integers",
      "Float8 argument passing": "by value",
      "Data page checksum version": "1",
    });
    // The checkpoint pg_control names is the last record pg_waldump read.
    expect(c.checkPoint).toBe(written.at(-1)!.result.startLsn);
    expect(written.at(-1)!.record.header.info).toBe(XLOG_CHECKPOINT_SHUTDOWN);

    // A crashed cluster's control file ("in production"), and one with a broken CRC.
    writeControlFile(dataDir, { ...c, state: DBState.IN_PRODUCTION });
    expect(run("pg_controldata", ["-D", dataDir]).stdout).toMatch(
      /Database cluster state:\s+in production\n/,
    );
    const file = path.join(dataDir, "global", "pg_control");
    const bytes = fs.readFileSync(file);
    bytes[40]! ^= 0xff;
    fs.writeFileSync(file, bytes);
    expect(run("pg_controldata", ["-D", dataDir]).stdout).toMatch(
      /WARNING: Calculated CRC checksum does not match value stored in file/,
    );
    writeControlFile(dataDir, c, { time: c.time });
  });
});

// ---------------------------------------------------------------------------------------------
// 3: the same records as a real PostgreSQL 15.

describe("pgsim builds PostgreSQL 15's own records byte for byte", () => {
  let pg: PgCluster | undefined;

  beforeAll(async () => {
    pg = await startPg15({ settings: { autovacuum: "off" } });
  }, 180_000);

  afterAll(async () => {
    await pg?.stop();
  });

  it("INSERT+INIT, INSERT with a full-page image, and COMMIT: the same bytes at the same LSNs", async () => {
    const server = pg!;
    await server.psql("CREATE EXTENSION pageinspect; CREATE TABLE t (id int4); CHECKPOINT;");
    const [[relNumber, dbOid]] = (await server.query(
      "SELECT relfilenode, (SELECT oid FROM pg_database WHERE datname = current_database()) FROM pg_class WHERE relname = 't'",
    )) as [[string, string]];
    const rel = { spcOid: 1663, dbOid: Number(dbOid), relNumber: Number(relNumber) };
    const before1 = parseLsn((await server.query("SELECT pg_current_wal_insert_lsn()"))[0]![0]!);
    await server.psql("INSERT INTO t VALUES (1)");
    await server.psql("CHECKPOINT");
    const before2 = parseLsn((await server.query("SELECT pg_current_wal_insert_lsn()"))[0]![0]!);
    await server.psql("INSERT INTO t VALUES (2)");
    const rawPage = hexToBytes(
      (await server.query("SELECT encode(get_raw_page('t', 0), 'hex')"))[0]![0]!,
    );
    await server.stopServer("fast");
    const pgWal = path.join(server.dataDir, "pg_wal");

    // pgsim reads the server's control file: CRC valid, and re-encoded it is the same 8 KB.
    const controlBytes = fs.readFileSync(path.join(server.dataDir, "global", "pg_control"));
    const control = decodeControlFile(controlBytes);
    expect(control.crcMatches).toBe(true);
    expect(Buffer.compare(encodeControlFile(control.data), controlBytes)).toBe(0);
    expect(control.data.state).toBe(DBState.SHUTDOWNED);

    // pgsim reads the server's WAL from the first insert's position.
    const reader = new XLogReader({
      walDir: pgWal,
      systemIdentifier: control.data.systemIdentifier,
    });
    const found = reader.findNextRecord(before1);
    expect(found).not.toBeNull();
    const { records } = reader.readAll(found!);
    reader.close();
    const heap = records.filter((r) => r.header.rmid === RM_HEAP_ID);
    expect(heap.map((r) => rmgrIdentify(r.header.rmid, r.header.info))).toEqual([
      "INSERT+INIT",
      "INSERT",
    ]);
    const [insert1, insert2] = heap as [DecodedXLogRecord, DecodedXLogRecord];
    expect(insert2.lsn).toBeGreaterThanOrEqual(before2);
    const commits = records.filter((r) => r.header.rmid === RM_XACT_ID);
    const commit1 = commits.find((r) => r.header.xid === insert1.header.xid)!;
    const onlineCheckpoints = records.filter(
      (r) => r.header.rmid === RM_XLOG_ID && r.header.info === XLOG_CHECKPOINT_ONLINE,
    );
    const redo = onlineCheckpoints.at(-1)!.mainData;
    const redoPtr = new DataView(redo.buffer, redo.byteOffset).getBigUint64(0, true);

    // pgsim's reader and pg_waldump see the same records in the server's WAL: from the first
    // record of the segment to the end, the same positions, lengths, xids and prev-links.
    const segStart = (insert1.lsn / BigInt(SEG)) * BigInt(SEG);
    const all = new XLogReader({ walDir: pgWal, systemIdentifier: control.data.systemIdentifier });
    const first = all.findNextRecord(segStart)!;
    const everything = all.readAll(first);
    all.close();
    const fullDump = run("pg_waldump", ["-p", pgWal, "-s", formatLsn(first)]);
    const prefix = (line: string) => line.slice(0, line.indexOf(", desc: "));
    expect(everything.records.map((r) => prefix(formatWalDumpRecord(r)))).toEqual(
      fullDump.stdout.trimEnd().split("\n").map(prefix),
    );
    expect(everything.records.length).toBeGreaterThan(100);
    expect(fullDump.stderr).toContain(
      `invalid record length at ${formatLsn(everything.end.lsn)}: wanted 24, got 0`,
    );

    // pg_waldump prints the server's records as pgsim describes them.
    const dump = run("pg_waldump", [
      "-p",
      pgWal,
      "-s",
      formatLsn(insert1.lsn),
      "-e",
      formatLsn(insert2.endLsn),
    ]);
    const dumpLines = dump.stdout.trimEnd().split("\n");
    for (const r of [insert1, commit1, insert2])
      expect(dumpLines).toContain(formatWalDumpRecord(r));

    // pgsim writes the same records at the same positions into a copy of the server's segment.
    const segName = xlogFileName(1, xlByteToSeg(insert1.lsn, SEG), SEG);
    const ours = path.join(tmpDir(), "pg_wal");
    fs.mkdirSync(ours);
    fs.copyFileSync(path.join(pgWal, segName), path.join(ours, segName));
    const pristine = fs.readFileSync(path.join(ours, segName));
    /** The file ranges holding a record's bytes (page headers it crosses left out). */
    const recordRanges = (r: DecodedXLogRecord): [number, number][] => {
      const ranges: [number, number][] = [];
      let at = Number(r.lsn % BigInt(SEG));
      let left = r.header.totLen;
      while (left > 0) {
        const n = Math.min(left, XLOG_BLCKSZ - (at % XLOG_BLCKSZ));
        ranges.push([at, at + n]);
        left -= n;
        at += n;
        if (left > 0) at += at % SEG === 0 ? 40 : 24;
      }
      return ranges;
    };
    // Overwrite the server's three records in the copy with garbage, so that only pgsim's
    // writing can make the copy equal to the server's file again.
    const damaged = Buffer.from(pristine);
    for (const r of [insert1, commit1, insert2]) {
      for (const [a, b] of recordRanges(r)) damaged.fill(0xee, a, b);
    }
    fs.writeFileSync(path.join(ours, segName), damaged);
    const ins = new XLogInsertState();
    const sameBytes = (r: DecodedXLogRecord) => {
      const file = fs.readFileSync(path.join(ours, segName));
      return recordRanges(r).every(
        ([a, b]) => Buffer.compare(file.subarray(a, b), pristine.subarray(a, b)) === 0,
      );
    };
    expect(sameBytes(insert1) || sameBytes(commit1) || sameBytes(insert2)).toBe(false);
    const tupleFor = (value: number, xmin: number, offnum: number) => {
      const t = heapFormTuple(createTupleDesc([{ name: "id", type: "int4" }]), [value]);
      heapTupleHeaderSetXmin(t, 0, xmin);
      heapTupleHeaderSetCtid(t, 0, { block: 0, offset: offnum });
      heapTupleHeaderSetInfomask(t, 0, HEAP_XMAX_INVALID);
      return t;
    };

    // 1. INSERT+INIT of (1) into the empty table: the page as pgsim builds it.
    let wal = XLogWriter.open({
      walDir: ours,
      systemIdentifier: control.data.systemIdentifier,
      startLsn: insert1.lsn,
      prevLsn: insert1.header.prev,
      walSyncMethod: "off",
    });
    const page = new Uint8Array(8192);
    pageInit(page);
    const tuple1 = tupleFor(1, insert1.header.xid, 1);
    expect(pageAddItemExtended(page, tuple1, 0, PAI_IS_HEAP)).toBe(1);
    const r1 = logHeapInsert(ins, wal, {
      rel,
      block: 0,
      page,
      offnum: 1,
      tuple: tuple1,
      xid: insert1.header.xid,
    });
    expect(r1.endLsn).toBe(insert1.endLsn);
    expect(pageGetLsn(page)).toBe(insert1.endLsn);
    // 2. Its COMMIT, with the server's timestamp.
    const commitTime = parseXactCompletion(commit1.header.info, commit1.mainData).xactTime;
    if (commit1.header.prev !== insert1.lsn) {
      // Something was logged in between (the server's own activity): resume after it.
      wal.close();
      wal = XLogWriter.open({
        walDir: ours,
        systemIdentifier: control.data.systemIdentifier,
        startLsn: commit1.lsn,
        prevLsn: commit1.header.prev,
        walSyncMethod: "off",
      });
    }
    xactLogCommitRecord(ins, wal, commit1.header.xid, { xactTime: commitTime });
    wal.close();
    expect(sameBytes(insert1)).toBe(true);
    expect(sameBytes(commit1)).toBe(true);

    // 3. INSERT of (2) after a checkpoint: the first change since the redo pointer takes a
    // full-page image of the page (its hole left out), and the tuple data is dropped.
    wal = XLogWriter.open({
      walDir: ours,
      systemIdentifier: control.data.systemIdentifier,
      startLsn: insert2.lsn,
      prevLsn: insert2.header.prev,
      redoRecPtr: redoPtr,
      walSyncMethod: "off",
    });
    const page2 = rawPage.slice();
    pageSetLsn(page2, insert1.endLsn); // the page before the insert's record: its LSN then
    const tuple2 = tupleFor(2, insert2.header.xid, 2);
    const r2 = logHeapInsert(ins, wal, {
      rel,
      block: 0,
      page: page2,
      offnum: decodeXlHeapInsert(insert2.mainData).offnum,
      tuple: tuple2,
      xid: insert2.header.xid,
    });
    wal.close();
    expect(r2.endLsn).toBe(insert2.endLsn);
    expect(insert2.blocks[0]!.image).toMatchObject({ holeOffset: 32, holeLength: 8096 });
    expect(sameBytes(insert2)).toBe(true);
    // And the page itself matches what pgsim would have built: header, two line pointers, tuples.
    const built = new Uint8Array(8192);
    pageInit(built);
    pageAddItemExtended(built, tupleFor(1, insert1.header.xid, 1), 0, PAI_IS_HEAP);
    pageAddItemExtended(built, tuple2, 0, PAI_IS_HEAP);
    pageSetLsn(built, insert2.endLsn);
    expect(Buffer.compare(built, rawPage)).toBe(0);
  }, 300_000);
});
