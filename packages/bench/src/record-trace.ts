/**
 * Records @pgsim/clock-sweep's traces/pgsim-workload.trace, the replacement-policy lab's recorded
 * trace: a pgbench-like workload run through @pgsim/buffer-manager (disk-backed, 64 buffers), every
 * page access taken from the buffer manager's access trace hook.
 *
 * Models: pgbench's TPC-B-like transaction (UPDATE pgbench_accounts through its primary key,
 * SELECT the balance, UPDATE pgbench_tellers, UPDATE pgbench_branches, INSERT INTO
 * pgbench_history), with accounts chosen Zipf-distributed, a COPY that loads the tables through a
 * BULKWRITE ring, a reporting query that seq-scans pgbench_accounts through a BULKREAD ring every
 * 250 transactions (the table is larger than NBuffers / 4), and one VACUUM through a VACUUM ring.
 * Entry points: `recordWorkloadTrace()` (the trace as text, and what the buffer manager counted);
 * run by hand after a build, from the repository root, to rewrite the committed file:
 *     node packages/bench/dist/record-trace.js [OUT]    (npm run record-trace -w @pgsim/bench)
 * See also: ../../clock-sweep/src/lab/trace.ts (the format), ../../clock-sweep/src/lab/lab.ts (the
 * replay), the buffer manager's `setAccessTraceHook`.
 *
 * It lives in bench, not in clock-sweep: @pgsim/clock-sweep must not depend on
 * @pgsim/buffer-manager (the dependency runs the other way). What it produces is a committed text
 * file in clock-sweep, which the lab reads.
 *
 * Differs from PostgreSQL: the "index" is a two-level tree of pages with no contents, and tuples
 * are not written; the trace is about which pages are read, pinned and dirtied, in what order.
 */

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import {
  type BufferAccessStrategy,
  type BufferId,
  createBufferPool,
  ForkNumber,
  getAccessStrategy,
  type RelFileLocator,
} from "@pgsim/buffer-manager";
import {
  formatTrace,
  mulberry32,
  type TraceEvent,
  type TraceStrategy,
} from "@pgsim/clock-sweep/lab";

const BUFFER_COUNT = 64;
const SEED = 20251121;
const ACCOUNT_PAGES = 240;
const ROWS_PER_PAGE = 60;
const INDEX_LEAVES = 16;
const TELLER_PAGES = 2;
const HISTORY_ROWS_PER_PAGE = 80;
const TRANSACTIONS = 1200;
const SCAN_EVERY = 250;
const ZIPF_SKEW = 1.0;

const rel = (relNumber: number): RelFileLocator => ({ spcOid: 1663, dbOid: 5, relNumber });
const ACCOUNTS = rel(16384);
const ACCOUNTS_PKEY = rel(16385);
const TELLERS = rel(16386);
const BRANCHES = rel(16387);
const HISTORY = rel(16388);

/** What `recordWorkloadTrace` recorded. */
export interface RecordedTrace {
  /** The trace file's text (traces/pgsim-workload.trace). */
  text: string;
  /** Lines of the trace: reads and unpins. */
  lines: number;
  reads: number;
  /** Hits, as the buffer manager counted them (the trace hook agrees, or recording fails). */
  hits: number;
}

/**
 * Runs the workload through a fresh disk-backed pool in a temporary directory (removed after) and
 * returns the trace. Deterministic: the same seed, the same text.
 */
export function recordWorkloadTrace(): RecordedTrace {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-record-"));
  const pool = createBufferPool({ variant: "disk", bufferCount: BUFFER_COUNT, dataDir });

  // --- the recorder ----------------------------------------------------------------------------

  const events: TraceEvent[] = [];
  /** The index in `events` of each pinned page's access line. */
  const pinnedAt = new Map<string, number>();
  let currentStrategy: TraceStrategy | undefined;
  /** Each ring the workload creates gets a number, so that the replay gives each its own ring. */
  const ringIds = new Map<BufferAccessStrategy, number>();
  let currentRingId = 0;
  let hookHits = 0;
  let hookReads = 0;

  const tagOf = (r: RelFileLocator, fork: number, block: number) =>
    `${r.relNumber} ${fork} ${block}`;

  function bufferTag(buf: BufferId): string {
    const t = pool.bufferGetTag(buf);
    return `${t.relNumber} ${t.fork} ${t.block}`;
  }

  pool.setAccessTraceHook((r, fork, block, hit) => {
    hookReads++;
    if (hit) hookHits++;
    const tag = tagOf(r, fork, block);
    if (pinnedAt.has(tag)) throw new Error(`workload pins ${tag} twice: the trace cannot say so`);
    pinnedAt.set(tag, events.length);
    events.push({
      kind: "access",
      tag,
      strategy: currentStrategy,
      ringId: currentRingId,
      dirty: false,
      keepPin: true,
    });
  });

  function useRing(ring: BufferAccessStrategy | undefined): void {
    currentStrategy = ring?.type;
    if (ring !== undefined && !ringIds.has(ring)) ringIds.set(ring, ringIds.size);
    currentRingId = ring === undefined ? 0 : ringIds.get(ring)!;
  }

  function read(r: RelFileLocator, block: number, ring?: BufferAccessStrategy): BufferId {
    useRing(ring);
    return pool.readBuffer(r, ForkNumber.MAIN, block, { strategy: ring });
  }

  function extend(r: RelFileLocator, ring?: BufferAccessStrategy): BufferId {
    useRing(ring);
    return pool.extend(r, ForkNumber.MAIN, { strategy: ring });
  }

  function dirty(buf: BufferId): void {
    pool.lockBuffer(buf, "exclusive");
    pool.markBufferDirty(buf);
    pool.unlockBuffer(buf);
    events[pinnedAt.get(bufferTag(buf))!]!.dirty = true;
  }

  /** ReleaseBuffer; in the trace, an access released before any other access needs no unpin line. */
  function release(buf: BufferId): void {
    const tag = bufferTag(buf);
    pool.releaseBuffer(buf);
    const at = pinnedAt.get(tag)!;
    pinnedAt.delete(tag);
    if (at === events.length - 1) events[at]!.keepPin = false;
    else {
      events.push({
        kind: "unpin",
        tag,
        strategy: undefined,
        ringId: 0,
        dirty: false,
        keepPin: false,
      });
    }
  }

  // --- the workload ----------------------------------------------------------------------------

  const random = mulberry32(SEED);
  const accountRows = ACCOUNT_PAGES * ROWS_PER_PAGE;
  const zipfCdf = new Float64Array(accountRows);
  let zipfSum = 0;
  for (let k = 1; k <= accountRows; k++) {
    zipfSum += 1 / k ** ZIPF_SKEW;
    zipfCdf[k - 1] = zipfSum;
  }

  /** A Zipf-popular account, scattered over the table as pgbench's permute() scatters them. */
  function pickAccount(): number {
    const u = random() * zipfSum;
    let lo = 0;
    let hi = accountRows - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (zipfCdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return (lo * 7919) % accountRows;
  }

  /** COPY: the tables are loaded through a BULKWRITE ring, each new page dirtied. */
  function load(): void {
    for (const r of [ACCOUNTS, ACCOUNTS_PKEY, TELLERS, BRANCHES, HISTORY]) {
      pool.createRelation(r, ForkNumber.MAIN);
    }
    const bulkwrite = getAccessStrategy("bulkwrite", BUFFER_COUNT);
    for (let i = 0; i < ACCOUNT_PAGES; i++) {
      const buf = extend(ACCOUNTS, bulkwrite);
      dirty(buf);
      release(buf);
    }
    for (let i = 0; i <= INDEX_LEAVES; i++) {
      const buf = extend(ACCOUNTS_PKEY, bulkwrite);
      dirty(buf);
      release(buf);
    }
    for (const [r, pages] of [
      [TELLERS, TELLER_PAGES],
      [BRANCHES, 1],
      [HISTORY, 1],
    ] as const) {
      for (let i = 0; i < pages; i++) {
        const buf = extend(r);
        dirty(buf);
        release(buf);
      }
    }
  }

  /** An index scan for one account: root, then leaf (the root released first), then the heap page. */
  function fetchAccount(aid: number, update: boolean): void {
    const page = Math.floor(aid / ROWS_PER_PAGE);
    const leaf = 1 + Math.floor((page * INDEX_LEAVES) / ACCOUNT_PAGES);
    const root = read(ACCOUNTS_PKEY, 0);
    release(root); // _bt_relandgetbuf releases the parent before reading the child
    const leafBuf = read(ACCOUNTS_PKEY, leaf);
    const heap = read(ACCOUNTS, page);
    if (update) dirty(heap);
    release(heap);
    release(leafBuf);
  }

  let historyRows = 0;

  function transaction(): void {
    const aid = pickAccount();
    fetchAccount(aid, true); // UPDATE pgbench_accounts SET abalance = abalance + :delta
    fetchAccount(aid, false); // SELECT abalance FROM pgbench_accounts
    const teller = read(TELLERS, Math.floor(random() * TELLER_PAGES));
    dirty(teller);
    release(teller);
    const branch = read(BRANCHES, 0);
    dirty(branch);
    release(branch);
    // INSERT INTO pgbench_history: the last page, or a new one when it is full.
    const last = pool.nblocks(HISTORY, ForkNumber.MAIN) - 1;
    const target =
      historyRows > 0 && historyRows % HISTORY_ROWS_PER_PAGE === 0
        ? extend(HISTORY)
        : read(HISTORY, last);
    historyRows++;
    dirty(target);
    release(target);
  }

  /** SELECT sum(abalance) FROM pgbench_accounts: a seq scan through a BULKREAD ring. */
  function reportingScan(): void {
    // heapam.c initscan: a ring when the table is larger than NBuffers / 4 pages.
    const ring =
      ACCOUNT_PAGES > BUFFER_COUNT / 4 ? getAccessStrategy("bulkread", BUFFER_COUNT) : undefined;
    for (let page = 0; page < ACCOUNT_PAGES; page++) release(read(ACCOUNTS, page, ring));
  }

  /** VACUUM pgbench_accounts through a VACUUM ring; about one page in three has dead tuples. */
  function vacuum(): void {
    const ring = getAccessStrategy("vacuum", BUFFER_COUNT);
    for (let page = 0; page < ACCOUNT_PAGES; page++) {
      const buf = read(ACCOUNTS, page, ring);
      if (random() < 1 / 3) dirty(buf);
      release(buf);
    }
  }

  load();
  for (let t = 1; t <= TRANSACTIONS; t++) {
    transaction();
    if (t % SCAN_EVERY === 0) reportingScan();
    if (t === TRANSACTIONS / 2) vacuum();
  }

  const stats = pool.statistics();
  const leaked = pool.detach();
  fs.rmSync(dataDir, { recursive: true, force: true });
  if (leaked.leakedPins.length > 0 || pinnedAt.size > 0)
    throw new Error("the workload leaked pins");

  const reads = events.filter((e) => e.kind === "access").length;
  if (hookHits !== stats.hits || hookReads !== reads) {
    throw new Error("the trace hook and the buffer manager's statistics disagree");
  }
  const text = formatTrace({
    name: "pgsim-workload",
    description: [
      `pgsim-workload: recorded by packages/bench/src/record-trace.ts from @pgsim/buffer-manager (disk-backed, NBuffers = ${BUFFER_COUNT}, seed ${SEED})`,
      `a pgbench-like TPC-B workload: ${TRANSACTIONS} transactions over a ${ACCOUNT_PAGES}-page pgbench_accounts (16384) with Zipf(${ZIPF_SKEW}) accounts, its index (16385), tellers (16386), branches (16387), history (16388);`,
      `a COPY load (@bulkwrite), a seq scan of pgbench_accounts every ${SCAN_EVERY} transactions (@bulkread) and one VACUUM (@vacuum)`,
      `buffer manager at NBuffers = ${BUFFER_COUNT}: ${stats.hits} hits of ${reads} reads (${stats.extends} of them extends), ${stats.evictions} evictions, ${stats.writes} writes`,
    ],
    events,
  });
  return { text, lines: events.length, reads, hits: stats.hits };
}

/** Where the lab reads the trace: clock-sweep's traces folder, beside this package. */
const DEFAULT_OUT = fileURLToPath(
  new URL("../../clock-sweep/traces/pgsim-workload.trace", import.meta.url),
);

/** True when this module is the program node was asked to run, not a module a test imports. */
function isMainModule(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return fs.realpathSync(script) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isMainModule()) {
  const out = path.resolve(process.argv[2] ?? DEFAULT_OUT);
  const recorded = recordWorkloadTrace();
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, recorded.text);
  process.stdout.write(
    `wrote ${out}: ${recorded.lines} lines, ${recorded.reads} reads, ${recorded.hits} hits, ${(recorded.text.length / 1024).toFixed(0)} kB\n`,
  );
}
