/**
 * One backend's transaction: its xid (assigned on first write), command ids, combo command ids,
 * isolation level and snapshots, and commit or abort.
 *
 * Models: src/backend/access/transam/xact.c (StartTransaction, CommitTransaction,
 * AbortTransaction, GetCurrentTransactionId, CommandCounterIncrement,
 * TransactionIdIsCurrentTransactionId), utils/time/combocid.c (HeapTupleHeaderAdjustCmax,
 * GetComboCommandId, HeapTupleHeaderGetCmin/Cmax), snapmgr.c (GetTransactionSnapshot: per
 * statement under READ COMMITTED, once under REPEATABLE READ).
 * Entry points: `Transaction`, `IsolationLevel`.
 * See also: transam.ts (shared state), heapam-visibility.ts.
 *
 * Differs from PostgreSQL: no subtransactions or savepoints; SERIALIZABLE is not offered (it would
 * need predicate locks); a "statement" is one call into the heap API.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { InvalidTransactionId } from "../../include/access/transam.js";
import type { Snapshot } from "../../include/utils/snapshot.js";
import type { Transam } from "./transam.js";
import { timestampTzFromUnixMs, xactLogAbortRecord, xactLogCommitRecord } from "./xact-xlog.js";
import type { XLogWriter } from "./xlog.js";
import type { XLogInsertState } from "./xloginsert.js";

/** READ COMMITTED: a new snapshot per statement. REPEATABLE READ: one per transaction. */
export type IsolationLevel = "read committed" | "repeatable read";

export type TransactionState = "in progress" | "committed" | "aborted";

/** FirstCommandId. */
export const FirstCommandId = 0;
/** InvalidCommandId: command ids are 32-bit; 2^32 − 1 is never used. */
export const InvalidCommandId = 0xffffffff;

/** How a transaction's end is logged (a database with WAL). */
export interface TransactionXLog {
  readonly wal: XLogWriter;
  readonly ins: XLogInsertState;
  /** synchronous_commit: flush the WAL up to the commit record before the commit returns. */
  readonly synchronousCommit: boolean;
}

/** A transaction of one backend. Create through the database API, not directly. */
export class Transaction {
  readonly isolation: IsolationLevel;
  private readonly transam: Transam;
  private xidValue = InvalidTransactionId;
  private cid = FirstCommandId;
  private cidUsed = false;
  private stateValue: TransactionState = "in progress";
  private transactionSnapshot: Snapshot | undefined;
  private statementSnapshot: Snapshot | undefined;
  /** Combo command ids: index → [cmin, cmax], and the reverse lookup. */
  private readonly combos: [number, number][] = [];
  private readonly comboIndex = new Map<string, number>();
  /** Callbacks to run once the transaction has ended (see `onEnd`). */
  private endCallbacks: ((committed: boolean) => void)[] | undefined;

  private readonly xlog: TransactionXLog | undefined;
  /** The backend's last record end when the transaction began (to tell whether it wrote WAL). */
  private readonly recEndAtStart: bigint;

  constructor(transam: Transam, isolation: IsolationLevel, xlog?: TransactionXLog) {
    if (isolation !== "read committed" && isolation !== "repeatable read") {
      throw new PgsimError(
        "invalid-isolation-level",
        `isolation level must be "read committed" or "repeatable read", got ${JSON.stringify(isolation)}`,
      );
    }
    this.transam = transam;
    this.isolation = isolation;
    this.xlog = xlog;
    this.recEndAtStart = xlog?.ins.lastRecEnd ?? 0n;
  }

  get state(): TransactionState {
    return this.stateValue;
  }

  /** The xid, or 0 if the transaction has not written anything yet. */
  get xid(): number {
    return this.xidValue;
  }

  /** The current command id. */
  get commandId(): number {
    return this.cid;
  }

  /** Throws a typed error unless the transaction is still running. */
  checkInProgress(): void {
    if (this.stateValue !== "in progress") {
      throw new PgsimError(
        "transaction-finished",
        `transaction is ${this.stateValue}: start a new transaction for further commands`,
        { state: this.stateValue },
      );
    }
  }

  /** GetCurrentTransactionId: assigns an xid on the first write. */
  getXid(): number {
    this.checkInProgress();
    if (this.xidValue === InvalidTransactionId) this.xidValue = this.transam.assignXid();
    return this.xidValue;
  }

  /** TransactionIdIsCurrentTransactionId. */
  isCurrent(xid: number): boolean {
    return xid !== InvalidTransactionId && xid === this.xidValue;
  }

  /** Marks that the current command wrote something (so the next statement needs a new cid). */
  markCommandUsed(): void {
    this.cidUsed = true;
  }

  /**
   * Starts a statement: CommandCounterIncrement if the previous one wrote, then the snapshot the
   * statement uses (a new one under READ COMMITTED; the transaction's under REPEATABLE READ, with
   * the current command id).
   */
  beginStatement(): Snapshot {
    this.checkInProgress();
    if (this.cidUsed) {
      if (this.cid >= InvalidCommandId - 1) {
        throw new PgsimError(
          "program-limit-exceeded",
          "cannot have more than 2^32-2 commands in a transaction",
        );
      }
      this.cid++;
      this.cidUsed = false;
    }
    if (this.isolation === "read committed" || this.transactionSnapshot === undefined) {
      // The previous statement's snapshot is gone: stop holding back vacuum for it
      // (SnapshotResetXmin), then advertise the new snapshot's xmin.
      if (this.isolation === "read committed") this.transam.clearAdvertisedXmin();
      const snap = this.transam.getSnapshot(this.cid, true);
      if (this.isolation === "repeatable read") this.transactionSnapshot = snap;
      this.statementSnapshot = snap;
    } else {
      this.statementSnapshot = { ...this.transactionSnapshot, curcid: this.cid };
    }
    return this.statementSnapshot;
  }

  /**
   * Ends a statement. Under READ COMMITTED its snapshot is gone, so the backend stops holding
   * back cleanup for it (SnapshotResetXmin once no snapshot is registered): an idle READ
   * COMMITTED transaction advertises no xmin. REPEATABLE READ keeps its transaction snapshot.
   */
  endStatement(): void {
    if (this.isolation === "read committed" && this.stateValue === "in progress") {
      this.transam.clearAdvertisedXmin();
    }
  }

  /** The snapshot of the statement in progress (beginStatement first). */
  get snapshot(): Snapshot {
    if (this.statementSnapshot === undefined) return this.beginStatement();
    return this.statementSnapshot;
  }

  /**
   * GetComboCommandId: the combo id standing for (cmin, cmax), created on first use. Combo ids
   * are private to the backend and live as long as the transaction.
   */
  comboCommandId(cmin: number, cmax: number): number {
    const key = `${cmin}:${cmax}`;
    let id = this.comboIndex.get(key);
    if (id === undefined) {
      id = this.combos.length;
      this.combos.push([cmin, cmax]);
      this.comboIndex.set(key, id);
    }
    return id;
  }

  /** HeapTupleHeaderGetCmin for a combo id. */
  comboCmin(combo: number): number {
    const pair = this.combos[combo];
    if (pair === undefined)
      throw new PgsimError("invalid-combo-cid", `unknown combo command id ${combo}`);
    return pair[0];
  }

  /** HeapTupleHeaderGetCmax for a combo id. */
  comboCmax(combo: number): number {
    const pair = this.combos[combo];
    if (pair === undefined)
      throw new PgsimError("invalid-combo-cid", `unknown combo command id ${combo}`);
    return pair[1];
  }

  /**
   * Registers `callback` to run once, after the commit or abort is recorded, with whether the
   * transaction committed: the end-of-transaction work of layers above (CommitTransaction and
   * AbortTransaction call AtEOXact_PgStat and friends directly; pgsim's lower layer cannot name
   * them, so they register here, as RegisterXactCallback users do).
   */
  onEnd(callback: (committed: boolean) => void): void {
    this.checkInProgress();
    if (this.endCallbacks === undefined) this.endCallbacks = [];
    this.endCallbacks.push(callback);
  }

  private runEndCallbacks(committed: boolean): void {
    const callbacks = this.endCallbacks;
    if (callbacks === undefined) return;
    this.endCallbacks = undefined;
    for (const callback of callbacks) callback(committed);
  }

  /**
   * CommitTransaction: record the commit (RecordTransactionCommit: with WAL, the commit record is
   * inserted and — synchronous_commit on — flushed before the commit log says committed), leave
   * the proc array.
   *
   * A transaction that wrote no WAL of its own (only unlogged tables) commits asynchronously,
   * as PostgreSQL's does (wrote_xlog false: nothing it did needs the commit to be durable).
   */
  commit(): void {
    this.checkInProgress();
    const xlog = this.xlog;
    if (xlog !== undefined && this.xidValue !== InvalidTransactionId) {
      // DELAY_CHKPT_START from the commit record until the commit log says committed: a
      // checkpoint whose redo pointer falls after the record must not write pg_xact without it.
      xlog.wal.delayCheckpointStart();
      try {
        const wroteXlog = xlog.ins.lastRecEnd !== this.recEndAtStart;
        const { endLsn } = xactLogCommitRecord(xlog.ins, xlog.wal, this.xidValue, {
          xactTime: timestampTzFromUnixMs(Date.now()),
        });
        // synchronous_commit off: XLogSetAsyncXactLSN (the record is flushed a little later).
        if (xlog.synchronousCommit && wroteXlog) xlog.wal.flush(endLsn);
        else xlog.wal.setAsyncXactLsn(endLsn);
        this.transam.endTransaction(this.xidValue, true);
      } finally {
        xlog.wal.delayCheckpointEnd();
      }
    } else {
      this.transam.endTransaction(this.xidValue, true);
    }
    this.stateValue = "committed";
    this.runEndCallbacks(true);
  }

  /** AbortTransaction: record the abort; the transaction's tuples become invisible to all. */
  abort(): void {
    if (this.stateValue !== "in progress") return;
    const xlog = this.xlog;
    if (xlog !== undefined && this.xidValue !== InvalidTransactionId) {
      // RecordTransactionAbort: logged, never flushed (a lost abort record reads as aborted);
      // the commit log is set inside the same checkpoint delay as a commit's.
      // The transaction ends however the abort record fares (a failed WAL must not leave it
      // running, nor end it twice when the caller aborts again).
      this.stateValue = "aborted";
      xlog.wal.delayCheckpointStart();
      try {
        xactLogAbortRecord(xlog.ins, xlog.wal, this.xidValue, {
          xactTime: timestampTzFromUnixMs(Date.now()),
        });
      } finally {
        try {
          this.transam.endTransaction(this.xidValue, false);
        } finally {
          xlog.wal.delayCheckpointEnd();
          this.runEndCallbacks(false);
        }
      }
      return;
    }
    this.transam.endTransaction(this.xidValue, false);
    this.stateValue = "aborted";
    this.runEndCallbacks(false);
  }
}
