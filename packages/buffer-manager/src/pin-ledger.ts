/**
 * A backend's pin ledger: which buffers it pins and which content locks it holds, written to the
 * backend's own slots in shared memory, so that another backend can release them for it if it
 * dies (see buf-recovery.ts).
 *
 * Models: the buffer part of src/backend/utils/resowner/resowner.c (ResourceOwnerEnlargeBuffers,
 * ResourceOwnerRememberBuffer, ResourceOwnerForgetBuffer) and bufmgr.c's
 * ReservePrivateRefCountEntry. Keeping the record in shared memory is pgsim only: PostgreSQL's
 * resource owners are backend-private, because a backend that dies makes the postmaster restart
 * every backend and reinitialise shared memory.
 * Entry points: `PinLedger` (`reserve`, `pin`, `unpin`, `lock`, `unlock`, `adopt`).
 * See also: bufmgr.ts (its only user), buf-internals.ts (LEDGER_* layout), buf-recovery.ts.
 *
 * Layout (buf-internals.ts): per backend LEDGER_PIN_SLOTS buffer ids (−1 = free), then
 * LEDGER_LOCK_SLOTS entries of buf_id × 4 + lock mode (−1 = free). Only the owning backend writes
 * its slots, with plain stores; another backend reads them only after the owner is gone.
 *
 * Differs from PostgreSQL: a backend may pin at most LEDGER_PIN_SLOTS different buffers at once
 * (PostgreSQL's resource owners grow without bound); one more is the error "too-many-pins".
 */

import { AssertionError, PgsimError } from "@pgsim/clock-sweep";
import { LEDGER_INTS, LEDGER_LOCK_SLOTS, LEDGER_PIN_SLOTS } from "./buf-internals.js";
import { LW_EXCLUSIVE, LW_SHARED } from "./lwlock.js";

/**
 * One backend's ledger. Its shared slots live in the pool's `words` from `base` on; the maps from
 * buffer to slot and the free-slot stack are backend-private.
 */
export class PinLedger {
  private readonly words: Int32Array;
  /** Where this backend's ledger starts in `words`. */
  private readonly base: number;
  /** Ledger pin slot + 1 per buffer this backend pins (0 = none). */
  private readonly pinSlotOf: Int16Array;
  /** Free ledger pin slots, as a stack. */
  private readonly freePinSlots: Int16Array;
  /** How many entries `freePinSlots` holds; 0 means the next first pin must fail (`reserve`). */
  freePinTop = 0;
  /** Ledger lock slot + 1 per buffer whose content lock this backend holds. */
  private readonly lockSlotOf: Int8Array;

  constructor(words: Int32Array, base: number, bufferCount: number) {
    this.words = words;
    this.base = base;
    this.pinSlotOf = new Int16Array(bufferCount);
    this.freePinSlots = new Int16Array(LEDGER_PIN_SLOTS);
    this.lockSlotOf = new Int8Array(bufferCount);
  }

  /** A new backend's ledger: every slot free. */
  clear(): void {
    this.words.fill(-1, this.base, this.base + LEDGER_INTS);
    this.freePinTop = 0;
    for (let i = LEDGER_PIN_SLOTS - 1; i >= 0; i--) this.freePinSlots[this.freePinTop++] = i;
  }

  /**
   * Takes over the pins and content locks that a dead backend's ledger records: sets one private
   * pin per recorded buffer in `privateRefCount` and the recorded lock modes in `heldContentLock`
   * (so that the pool's `detach` can release them), and frees the slots that record nothing
   * usable. Returns the number of buffers now pinned.
   */
  adopt(privateRefCount: Int32Array, heldContentLock: Uint8Array): number {
    const w = this.words;
    const bufferCount = privateRefCount.length;
    let pinned = 0;
    this.freePinTop = 0;
    for (let slot = LEDGER_PIN_SLOTS - 1; slot >= 0; slot--) {
      const id = w[this.base + slot]!;
      if (id >= 0 && id < bufferCount && privateRefCount[id] === 0) {
        privateRefCount[id] = 1;
        this.pinSlotOf[id] = slot + 1;
        pinned++;
      } else {
        w[this.base + slot] = -1;
        this.freePinSlots[this.freePinTop++] = slot;
      }
    }
    for (let slot = 0; slot < LEDGER_LOCK_SLOTS; slot++) {
      const entry = w[this.base + LEDGER_PIN_SLOTS + slot]!;
      if (entry < 0) continue;
      const id = entry >> 2;
      const mode = entry & 3;
      if (id < bufferCount && (mode === LW_SHARED || mode === LW_EXCLUSIVE)) {
        heldContentLock[id] = mode;
        this.lockSlotOf[id] = slot + 1;
      }
    }
    return pinned;
  }

  /** ReservePrivateRefCountEntry: make sure a new pin can be recorded before pinning. */
  reserve(): void {
    if (this.freePinTop === 0) {
      throw new PgsimError(
        "too-many-pins",
        `a backend may pin at most ${LEDGER_PIN_SLOTS} buffers at once`,
        { limit: LEDGER_PIN_SLOTS },
      );
    }
  }

  /** Records a first pin (after the shared refcount was raised). A slot was reserved. */
  pin(id: number): void {
    const slot = this.freePinSlots[--this.freePinTop]!;
    this.words[this.base + slot] = id;
    this.pinSlotOf[id] = slot + 1;
  }

  /** Forgets a pin (before the shared refcount is lowered). */
  unpin(id: number): void {
    const slot = this.pinSlotOf[id]! - 1;
    if (slot < 0) return;
    this.words[this.base + slot] = -1;
    this.pinSlotOf[id] = 0;
    this.freePinSlots[this.freePinTop++] = slot;
  }

  /** Records a content lock taken in `mode` (LW_SHARED or LW_EXCLUSIVE). */
  lock(id: number, mode: number): void {
    const base = this.base + LEDGER_PIN_SLOTS;
    for (let slot = 0; slot < LEDGER_LOCK_SLOTS; slot++) {
      if (this.words[base + slot]! < 0) {
        this.words[base + slot] = id * 4 + mode;
        this.lockSlotOf[id] = slot + 1;
        return;
      }
    }
    throw new AssertionError(`a backend holds more than ${LEDGER_LOCK_SLOTS} content locks`);
  }

  /** Forgets a content lock (before it is released). */
  unlock(id: number): void {
    const slot = this.lockSlotOf[id]! - 1;
    if (slot < 0) return;
    this.words[this.base + LEDGER_PIN_SLOTS + slot] = -1;
    this.lockSlotOf[id] = 0;
  }
}
