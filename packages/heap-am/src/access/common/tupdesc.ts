/**
 * Tuple descriptors: the ordered attributes of a table with everything needed to lay out and
 * read its tuples (length, alignment, storage, dropped, missing value).
 *
 * Models: src/include/access/tupdesc.h (TupleDescData), src/include/catalog/pg_attribute.h
 * (FormData_pg_attribute: attlen, attbyval, attalign, attstorage, atttypmod, attnotnull,
 * attisdropped, atthasmissing, attmissingval), src/backend/access/common/tupdesc.c
 * (CreateTemplateTupleDesc, TupleDescInitEntry).
 * Entry points: `createTupleDesc`, `tupleDescFromAttributeRows`, `tupleDescWithTypeStorage`.
 * See also: heaptuple.ts (forms and deforms tuples with a descriptor), types/ (the codecs).
 */

import { PgsimError } from "@pgsim/clock-sweep";
import { MaxHeapAttributeNumber } from "../../include/access/htup-details.js";
import { type ResolvedType, resolveTypeName } from "../../utils/adt/index.js";
import {
  ALIGN_BYTES,
  type AttAlign,
  type AttStorage,
  type Datum,
  type TypeCodec,
} from "../../utils/adt/type-codec.js";

/** One attribute (column) of a descriptor: the pg_attribute fields pgsim uses. */
export interface FormPgAttribute {
  /** 1-based column number. */
  readonly attnum: number;
  /** Column name; PostgreSQL renames dropped columns to `........pg.dropped.N........`. */
  readonly attname: string;
  /** The column's type, or null for a dropped column (its type is gone). */
  readonly codec: TypeCodec | null;
  /** pg_type.typname of the column's type, or null when dropped. */
  readonly typname: string | null;
  /** Type modifier: varchar(n) → n + 4, numeric(p,s) → ((p << 16) | s) + 4; -1 for none. */
  readonly atttypmod: number;
  /** Bytes of a fixed-length value, or -1 for varlena. Kept after a DROP COLUMN. */
  readonly attlen: number;
  readonly attbyval: boolean;
  readonly attalign: AttAlign;
  /** attalign in bytes: 1, 2, 4 or 8. */
  readonly attalignBytes: 1 | 2 | 4 | 8;
  /** Storage strategy; only "p" (plain) matters to pgsim: it keeps 4-byte varlena headers. */
  readonly attstorage: AttStorage;
  readonly attnotnull: boolean;
  readonly attisdropped: boolean;
  /** True when tuples with fewer attributes read `attmissingval` here instead of NULL. */
  readonly atthasmissing: boolean;
  /** The value an ADD COLUMN ... DEFAULT gave the rows that existed before it. */
  readonly attmissingval: Datum | null;
}

/** A tuple descriptor: the attributes in attnum order, dropped ones included. */
export interface TupleDesc {
  /** Number of attributes, dropped ones included. */
  readonly natts: number;
  readonly attrs: readonly FormPgAttribute[];
}

/** A column as a caller defines it. */
export interface ColumnDefinition {
  /** Column name. */
  readonly name: string;
  /**
   * The type: a typname ("int4", "varchar", "numeric", "bpchar", "char"), or an SQL spelling
   * with modifiers ("integer", "varchar(40)", "numeric(12,4)", "character(12)"). Optional only
   * for dropped columns that give `attlen` and `attalign` instead.
   */
  readonly type?: string;
  /** Overrides the modifier in `type` (atttypmod, e.g. 44 for varchar(40)). */
  readonly typmod?: number;
  readonly notNull?: boolean;
  /** A dropped column: it keeps its bytes in old tuples, and new tuples store NULL for it. */
  readonly dropped?: boolean;
  /** ALTER COLUMN ... SET STORAGE; defaults to the type's typstorage. */
  readonly storage?: AttStorage;
  /** attmissingval: the value rows that predate an ADD COLUMN ... DEFAULT read here. */
  readonly missing?: Datum | null;
  /** For a dropped column without `type`: the layout PostgreSQL keeps in pg_attribute. */
  readonly attlen?: number;
  readonly attalign?: AttAlign;
  readonly attbyval?: boolean;
}

function badColumn(message: string, detail?: Record<string, unknown>): PgsimError {
  return new PgsimError("invalid-column-definition", message, detail);
}

const ALIGN_CODES: readonly string[] = ["c", "s", "i", "d"];
const STORAGE_CODES: readonly string[] = ["p", "e", "m", "x"];

/**
 * Builds a descriptor from column definitions.
 *
 * @example
 * ```ts
 * const desc = createTupleDesc([
 *   { name: "id", type: "int4", notNull: true },
 *   { name: "name", type: "varchar(40)" },
 *   { name: "status", type: "int2", missing: 7 },
 * ]);
 * desc.attrs[1]?.atttypmod; // 44
 * ```
 */
export function createTupleDesc(columns: readonly ColumnDefinition[]): TupleDesc {
  if (columns.length > MaxHeapAttributeNumber) {
    throw new PgsimError(
      "too-many-columns",
      `tables can have at most ${MaxHeapAttributeNumber} columns`,
      { columns: columns.length },
    );
  }
  const attrs = columns.map((column, i) => buildAttribute(column, i + 1));
  return { natts: attrs.length, attrs };
}

function buildAttribute(column: ColumnDefinition, attnum: number): FormPgAttribute {
  const dropped = column.dropped === true;
  let resolved: ResolvedType | undefined;
  if (column.type !== undefined) resolved = resolveTypeName(column.type);
  else if (!dropped) throw badColumn(`column "${column.name}" needs a type`, { attnum });

  if (resolved === undefined) {
    // A dropped column known only by its layout.
    const { attlen, attalign } = column;
    if (attlen === undefined || attalign === undefined || !ALIGN_CODES.includes(attalign)) {
      throw badColumn(`dropped column ${attnum} needs a type, or attlen and attalign`, { attnum });
    }
    if (!(attlen === -1 || (Number.isInteger(attlen) && attlen > 0))) {
      throw badColumn(`dropped column ${attnum} has an unsupported attlen ${attlen}`, { attnum });
    }
    return {
      attnum,
      attname: column.name,
      codec: null,
      typname: null,
      atttypmod: column.typmod ?? -1,
      attlen,
      attbyval: column.attbyval ?? (attlen > 0 && attlen <= 8),
      attalign,
      attalignBytes: ALIGN_BYTES[attalign],
      attstorage: column.storage ?? (attlen === -1 ? "x" : "p"),
      attnotnull: false,
      attisdropped: true,
      atthasmissing: false,
      attmissingval: null,
    };
  }

  const { codec } = resolved;
  const typmod = column.typmod ?? resolved.typmod;
  const storage = column.storage ?? codec.typstorage;
  if (!STORAGE_CODES.includes(storage)) throw badColumn(`invalid storage "${storage}"`, { attnum });
  if (storage !== "p" && codec.typlen !== -1) {
    // PostgreSQL: "column data type %s can only have storage PLAIN".
    throw badColumn(`column data type ${codec.typname} can only have storage PLAIN`, { attnum });
  }
  const missing = column.missing ?? null;
  return {
    attnum,
    attname: column.name,
    codec: dropped ? null : codec,
    typname: dropped ? null : codec.typname,
    atttypmod: typmod,
    attlen: codec.typlen,
    attbyval: codec.typbyval,
    attalign: codec.typalign,
    attalignBytes: ALIGN_BYTES[codec.typalign],
    attstorage: storage,
    attnotnull: !dropped && column.notNull === true,
    attisdropped: dropped,
    atthasmissing: !dropped && missing !== null,
    attmissingval: dropped || missing === null ? null : codec.coerce(missing, typmod),
  };
}

/**
 * The same descriptor with every attribute's storage reset to its type's default. This is the
 * descriptor PostgreSQL's INSERT forms tuples with (the query's row type rather than the
 * table's), which is why short values get 1-byte headers even in a column SET STORAGE PLAIN;
 * an UPDATE forms them with the table's descriptor and keeps 4-byte headers there.
 */
export function tupleDescWithTypeStorage(desc: TupleDesc): TupleDesc {
  const attrs = desc.attrs.map((att) =>
    att.codec === null ? att : { ...att, attstorage: att.codec.typstorage },
  );
  return { natts: attrs.length, attrs };
}

// ---------------------------------------------------------------------------------------------
// Descriptors from catalog rows (the fixtures' case.json `columns`)

function field<T>(
  row: Record<string, unknown>,
  key: string,
  check: (v: unknown) => v is T,
  index: number,
): T {
  const value = row[key];
  if (!check(value)) {
    throw badColumn(`column ${index + 1}: field "${key}" is missing or has the wrong type`, {
      key,
      index,
    });
  }
  return value;
}

const isString = (v: unknown): v is string => typeof v === "string";
const isNumber = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v);
const isBoolean = (v: unknown): v is boolean => typeof v === "boolean";
const isStringOrNull = (v: unknown): v is string | null => v === null || typeof v === "string";

/**
 * Builds a descriptor from pg_attribute rows joined with pg_type, in the shape of the
 * fixtures' `case.json` `columns`: `{ attnum, name, dropped, typname, attlen, attalign,
 * attbyval, attstorage, atttypmod, attnotnull, atthasmissing, attmissingval }` (other keys are
 * ignored). Rows must be in attnum order from 1, dropped columns included. `attmissingval` is
 * PostgreSQL's one-element array literal, e.g. `{7}`, read with the column type's input.
 */
export function tupleDescFromAttributeRows(rows: readonly unknown[]): TupleDesc {
  const columns = rows.map((raw, index): ColumnDefinition => {
    if (typeof raw !== "object" || raw === null)
      throw badColumn(`column ${index + 1} is not an object`);
    const row = raw as Record<string, unknown>;
    const attnum = field(row, "attnum", isNumber, index);
    if (attnum !== index + 1)
      throw badColumn(`column ${index + 1} has attnum ${attnum}`, { attnum });
    const name = field(row, "name", isString, index);
    const dropped = field(row, "dropped", isBoolean, index);
    const attlen = field(row, "attlen", isNumber, index);
    const attalign = field(row, "attalign", isString, index) as AttAlign;
    const attstorage = field(row, "attstorage", isString, index) as AttStorage;
    const atttypmod = field(row, "atttypmod", isNumber, index);
    if (dropped) {
      return {
        name,
        dropped,
        attlen,
        attalign,
        attbyval: row.attbyval === true,
        storage: attstorage,
      };
    }
    const typname = field(row, "typname", isString, index);
    const hasMissing = row.atthasmissing === true;
    const missingText = field(row, "attmissingval", isStringOrNull, index);
    const definition: ColumnDefinition = {
      name,
      type: typname,
      typmod: atttypmod,
      notNull: row.attnotnull === true,
      storage: attstorage,
    };
    const resolved = resolveTypeName(typname);
    if (resolved.codec.typlen !== attlen || resolved.codec.typalign !== attalign) {
      throw badColumn(`column "${name}": attlen/attalign do not match type ${typname}`, { attnum });
    }
    if (!hasMissing) return definition;
    if (missingText === null)
      throw badColumn(`column "${name}" has atthasmissing but no attmissingval`);
    const element = parseSingleElementArray(missingText);
    const missing = element === null ? null : resolved.codec.input(element, atttypmod);
    return { ...definition, missing };
  });
  return createTupleDesc(columns);
}

/**
 * Reads the one element of an array literal such as `{7}`, `{"a b"}`, `{"x\"y"}` or `{NULL}`
 * (array_in's quoting rules for a single element). Returns null for an unquoted NULL.
 */
export function parseSingleElementArray(literal: string): string | null {
  const text = literal.trim();
  if (!text.startsWith("{") || !text.endsWith("}")) {
    throw new PgsimError("invalid-text-representation", `malformed array literal: "${literal}"`);
  }
  const body = text.slice(1, -1).trim();
  if (body.startsWith('"')) {
    let out = "";
    let i = 1;
    for (; i < body.length && body[i] !== '"'; i++) {
      if (body[i] === "\\") i++;
      out += body[i] ?? "";
    }
    if (i !== body.length - 1) {
      throw new PgsimError("invalid-text-representation", `malformed array literal: "${literal}"`);
    }
    return out;
  }
  if (body === "" || /[{},"]/.test(body)) {
    throw new PgsimError("invalid-text-representation", `malformed array literal: "${literal}"`);
  }
  if (body.toUpperCase() === "NULL") return null;
  // Unquoted elements may escape characters with a backslash.
  return body.replace(/\\(.)/g, "$1");
}
