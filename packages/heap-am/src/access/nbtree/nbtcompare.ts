/**
 * The B-tree operator classes pgsim supports: each key type's ORDER support function (3-way
 * comparison, BTORDER_PROC) and whether its values are "equal image" (BTEQUALIMAGE_PROC), which
 * decides whether deduplication is safe.
 *
 * Models: src/backend/access/nbtree/nbtcompare.c (btboolcmp, btint2cmp, btint4cmp, btint8cmp,
 * btoidcmp, btequalimage), utils/adt/varlena.c (bttextcmp → varstr_cmp under the "C"
 * collation, btvarstrequalimage), date.c (date_cmp), timestamp.c (timestamp_cmp), uuid.c
 * (uuid_cmp), numeric.c (numeric_cmp → cmp_numerics), and the pg_amproc rows that tie them to
 * the default opclasses.
 * Entry points: `btOpclassFor`, `BTREE_SUPPORTED_TYPES`.
 * See also: nbtutils.ts (scan keys call these), ../../utils/adt/ (the values compared).
 *
 * Differs from PostgreSQL: text and varchar compare under the "C" collation only (byte order of
 * the UTF-8 encoding = code point order), which is what a "C" or "C.UTF-8" database gives;
 * there is no other collation. Types without an opclass here (float4/8, bpchar, bytea, interval,
 * time, name, "char") are refused with `unsupported-index-type`.
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { type Datum, invalidInputSyntax } from "../../utils/adt/type-codec.js";

/** An operator class as nbtree uses it. */
export interface BtOpclass {
  /** pg_opclass.opcname of the default B-tree opclass. */
  readonly name: string;
  /** BTORDER_PROC: <0, 0, >0 as a is less than, equal to, greater than b. */
  readonly cmp: (a: Datum, b: Datum) => number;
  /** BTEQUALIMAGE_PROC's answer (for the "C" collation): equal values have equal bytes. */
  readonly equalimage: boolean;
}

function cmpNumber(a: Datum, b: Datum): number {
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

function cmpBigint(a: Datum, b: Datum): number {
  return (a as bigint) < (b as bigint) ? -1 : (a as bigint) > (b as bigint) ? 1 : 0;
}

function cmpBool(a: Datum, b: Datum): number {
  return (a ? 1 : 0) - (b ? 1 : 0);
}

/**
 * varstr_cmp under "C": memcmp of the UTF-8 bytes over the shorter length, then the shorter one
 * first. UTF-8 byte order is code point order; JavaScript strings compare by UTF-16 code unit,
 * which agrees except that surrogates (U+D800..DFFF, used for code points above U+FFFF) sort
 * below U+E000..FFFF in UTF-16 and above them in code point order. The fix-up below maps the
 * two ranges so that code units compare as code points would.
 */
export function cmpTextC(a: Datum, b: Datum): number {
  const x = a as string;
  const y = b as string;
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) {
    let cx = x.charCodeAt(i);
    let cy = y.charCodeAt(i);
    if (cx === cy) continue;
    if (cx >= 0xd800 && cy >= 0xd800) {
      cx += cx < 0xe000 ? 0x2000 : -0x800;
      cy += cy < 0xe000 ? 0x2000 : -0x800;
    }
    return cx < cy ? -1 : 1;
  }
  return x.length === y.length ? 0 : x.length < y.length ? -1 : 1;
}

/**
 * A numeric value as cmp_numerics orders it: `rank` puts -Infinity (0) below every finite value
 * (1), then Infinity (2), then NaN (3), which PostgreSQL sorts above everything and equal to
 * itself. A finite value is 0.`digits` × 10^`exp` with `neg`, no leading or trailing zero digits
 * ("" is zero), so that equal values (1.0 and 1.00) have equal keys.
 */
interface NumericKey {
  rank: number;
  neg: boolean;
  digits: string;
  exp: number;
}

const NUMERIC_TEXT = /^\s*([+-])?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?\s*$/;

function numericKey(value: Datum): NumericKey {
  const text = String(value);
  const t = text.trim().toLowerCase();
  if (t === "nan") return { rank: 3, neg: false, digits: "", exp: 0 };
  if (t === "infinity" || t === "+infinity" || t === "inf" || t === "+inf") {
    return { rank: 2, neg: false, digits: "", exp: 0 };
  }
  if (t === "-infinity" || t === "-inf") return { rank: 0, neg: true, digits: "", exp: 0 };
  const m = NUMERIC_TEXT.exec(text);
  if (m === null || (m[2] === "" && (m[3] ?? "") === "")) {
    throw invalidInputSyntax("numeric", text);
  }
  const whole = m[2]!;
  const fraction = m[3] ?? "";
  let all = whole + fraction;
  // value = 0.all × 10^exp before stripping leading zeros.
  let exp = whole.length + Number(m[4] ?? 0);
  let lead = 0;
  while (lead < all.length && all.charCodeAt(lead) === 0x30) lead++;
  all = all.slice(lead);
  exp -= lead;
  let end = all.length;
  while (end > 0 && all.charCodeAt(end - 1) === 0x30) end--;
  all = all.slice(0, end);
  if (all === "") return { rank: 1, neg: false, digits: "", exp: 0 };
  return { rank: 1, neg: m[1] === "-", digits: all, exp };
}

/** cmp_numerics: numeric order, NaN last and equal to itself, display scale ignored. */
export function cmpNumeric(a: Datum, b: Datum): number {
  const x = numericKey(a);
  const y = numericKey(b);
  if (x.rank !== y.rank) return x.rank < y.rank ? -1 : 1;
  if (x.rank !== 1) return 0;
  const sx = x.digits === "" ? 0 : x.neg ? -1 : 1;
  const sy = y.digits === "" ? 0 : y.neg ? -1 : 1;
  if (sx !== sy) return sx < sy ? -1 : 1;
  if (sx === 0) return 0;
  // Same sign: compare magnitudes, then flip for negatives.
  let mag: number;
  if (x.exp !== y.exp) mag = x.exp < y.exp ? -1 : 1;
  else mag = x.digits === y.digits ? 0 : x.digits < y.digits ? -1 : 1;
  return sx < 0 && mag !== 0 ? -mag : mag;
}

function cmpString(a: Datum, b: Datum): number {
  return (a as string) < (b as string) ? -1 : (a as string) > (b as string) ? 1 : 0;
}

const OPCLASSES: ReadonlyMap<string, BtOpclass> = new Map([
  ["bool", { name: "bool_ops", cmp: cmpBool, equalimage: true }],
  ["int2", { name: "int2_ops", cmp: cmpNumber, equalimage: true }],
  ["int4", { name: "int4_ops", cmp: cmpNumber, equalimage: true }],
  ["int8", { name: "int8_ops", cmp: cmpBigint, equalimage: true }],
  ["oid", { name: "oid_ops", cmp: cmpNumber, equalimage: true }],
  ["text", { name: "text_ops", cmp: cmpTextC, equalimage: true }],
  // varchar has no opclass of its own: its columns use text_ops (binary coercible).
  ["varchar", { name: "text_ops", cmp: cmpTextC, equalimage: true }],
  ["date", { name: "date_ops", cmp: cmpNumber, equalimage: true }],
  ["timestamp", { name: "timestamp_ops", cmp: cmpBigint, equalimage: true }],
  ["timestamptz", { name: "timestamptz_ops", cmp: cmpBigint, equalimage: true }],
  // The canonical lowercase text of a uuid sorts as its 16 bytes do (uuid_cmp is a memcmp).
  ["uuid", { name: "uuid_ops", cmp: cmpString, equalimage: true }],
  // numeric_ops has no BTEQUALIMAGE_PROC (1.0 = 1.00 with different bytes): an index with a
  // numeric column is never deduplicated.
  ["numeric", { name: "numeric_ops", cmp: cmpNumeric, equalimage: false }],
]);

/** Key types a pgsim B-tree index accepts. */
export const BTREE_SUPPORTED_TYPES: readonly string[] = [...OPCLASSES.keys()];

/**
 * The default B-tree opclass of a column type (GetDefaultOpClass), or `unsupported-index-type`
 * naming the types that have one.
 */
export function btOpclassFor(typname: string, column: string): BtOpclass {
  const opclass = OPCLASSES.get(typname);
  if (opclass === undefined) {
    throw new PgsimError(
      "unsupported-index-type",
      `data type ${typname} of column "${column}" has no default operator class for access method "btree" in pgsim; ` +
        `supported key types: ${BTREE_SUPPORTED_TYPES.join(", ")}`,
      { type: typname, column },
    );
  }
  return opclass;
}
