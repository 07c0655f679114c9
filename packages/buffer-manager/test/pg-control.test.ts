/**
 * The control file: CRC-32C, encoding and decoding ControlFileData, and the `global/pg_control`
 * a disk-backed pool writes. (test/pg15-inspect.test.ts and test/inspect-pgsim-datadir.test.ts
 * check the same against PostgreSQL 15's own files and pg_controldata.)
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { mulberry32 } from "@pgsim/clock-sweep";
import { afterAll, describe, expect, it } from "vitest";
import {
  crc32c,
  crc32cFinish,
  crc32cUpdate,
  crc32cUpdateWords,
  DBState,
  decodeControlFile,
  encodeControlFile,
  INIT_CRC32C,
  initBufferPool,
  PG_CONTROL_FILE_SIZE,
  PgsimError,
  pgsimControlFile,
  readControlFile,
  XLOG_CONTROL_FILE,
} from "../src/index.js";
import { removeTempDirs, tempDir } from "./helpers.js";

afterAll(removeTempDirs);

describe("CRC-32C", () => {
  it("has the check value of the Castagnoli polynomial", () => {
    expect(crc32c(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // iSCSI test vector (RFC 3720 B.4): 32 bytes of zeros.
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
  });

  /** `bytes` with an Int32Array view of the same memory, as crc32cUpdateWords wants them. */
  function withWords(bytes: Uint8Array): { bytes: Uint8Array; words: Int32Array } {
    const copy = new Uint8Array(bytes.length);
    copy.set(bytes);
    return { bytes: copy, words: new Int32Array(copy.buffer, 0, copy.length >> 2) };
  }
  const wordsCrc = (bytes: Uint8Array, start = 0, end = bytes.length): number => {
    const v = withWords(bytes);
    return crc32cFinish(crc32cUpdateWords(INIT_CRC32C, v.bytes, v.words, start, end));
  };

  it("reading words gives the known check values (RFC 3720 B.4 vectors)", () => {
    expect(wordsCrc(new TextEncoder().encode("123456789"))).toBe(0xe3069283);
    expect(wordsCrc(new Uint8Array(0))).toBe(0);
    expect(wordsCrc(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(wordsCrc(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(wordsCrc(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(wordsCrc(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it("reading words equals the byte-wise slicing-by-8 on random inputs, ranges and running CRCs", () => {
    const rand = mulberry32(20261202);
    for (let n = 0; n < 2000; n++) {
      const len = Math.floor(rand() * 300);
      const bytes = Uint8Array.from({ length: len }, () => Math.floor(rand() * 256));
      const start = Math.floor(rand() * (len + 1));
      const end = start + Math.floor(rand() * (len - start + 1));
      const running = Math.floor(rand() * 0x100000000);
      const v = withWords(bytes);
      expect(crc32cUpdateWords(running, v.bytes, v.words, start, end)).toBe(
        crc32cUpdate(running, bytes, start, end),
      );
    }
  });

  it("refuses words that do not view the bytes", () => {
    const bytes = new Uint8Array(16);
    expect(() => crc32cUpdateWords(INIT_CRC32C, bytes, new Int32Array(3), 0, 16)).toThrow(
      /must view the bytes/,
    );
  });
});

describe("ControlFileData", () => {
  const data = pgsimControlFile({
    dataChecksums: true,
    relsegSize: 4,
    maxConnections: 7,
    nowMs: 1.7e12,
  });

  it("encodes into 8192 bytes at PostgreSQL 15's offsets, with a CRC over the first 288", () => {
    const bytes = encodeControlFile(data);
    expect(bytes.length).toBe(PG_CONTROL_FILE_SIZE);
    const v = new DataView(bytes.buffer);
    expect(v.getUint32(8, true)).toBe(1300);
    expect(v.getUint32(12, true)).toBe(202209061);
    expect(v.getUint32(16, true)).toBe(DBState.IN_PRODUCTION);
    expect(v.getFloat64(208, true)).toBe(1234567.0);
    expect(v.getUint32(216, true)).toBe(8192);
    expect(v.getUint32(220, true)).toBe(4);
    expect(v.getInt32(180, true)).toBe(7);
    expect(v.getUint32(252, true)).toBe(1);
    expect(v.getUint32(288, true)).toBe(crc32c(bytes, 0, 288));
    expect(bytes.subarray(296).every((b) => b === 0)).toBe(true);
  });

  it("decodes what it encodes, and re-encodes to the same bytes", () => {
    const bytes = encodeControlFile(data);
    const decoded = decodeControlFile(bytes);
    expect(decoded.crcMatches).toBe(true);
    expect(decoded.data).toEqual(data);
    expect(decoded.crc).toBe(new DataView(bytes.buffer).getUint32(288, true));
    expect(encodeControlFile(decoded.data)).toEqual(bytes);
    const off = decodeControlFile(encodeControlFile({ ...data, dataChecksumVersion: 0 }));
    expect(off.data.dataChecksumVersion).toBe(0);
  });

  it("refuses a short file, another version, and (when reading a file) a wrong CRC", () => {
    const bytes = encodeControlFile(data);
    expect(() => decodeControlFile(bytes.subarray(0, 100))).toThrow(
      'could not read file "global/pg_control": read 100 of 296',
    );
    const v14 = bytes.slice();
    new DataView(v14.buffer).setUint32(8, 1300 - 100, true);
    expect(() => decodeControlFile(v14)).toThrow(/PG_CONTROL_VERSION 1200 \(0x000004b0\)/);
    const swapped = bytes.slice();
    new DataView(swapped.buffer).setUint32(8, 1300, false);
    expect(() => decodeControlFile(swapped)).toThrow(/possible byte ordering mismatch/);

    const flipped = bytes.slice();
    flipped[252]! ^= 1; // data_checksum_version 1 → 0 without a new CRC
    expect(decodeControlFile(flipped).crcMatches).toBe(false);
    const dir = tempDir();
    const file = path.join(dir, "pg_control");
    fs.writeFileSync(file, flipped);
    let error: unknown;
    try {
      readControlFile(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(PgsimError);
    expect((error as PgsimError).code).toBe("control-file-invalid");
    expect((error as PgsimError).message).toBe(`${file}: incorrect checksum in control file`);
  });
});

describe("a disk-backed pool writes global/pg_control", () => {
  it.each([true, false])("recording data checksums %s and its segment size", (dataChecksums) => {
    const dataDir = tempDir();
    initBufferPool({ variant: "disk", bufferCount: 16, dataDir, dataChecksums, segmentBlocks: 8 });
    const control = readControlFile(path.join(dataDir, XLOG_CONTROL_FILE));
    expect(control.dataChecksumVersion).toBe(dataChecksums ? 1 : 0);
    expect(control.relsegSize).toBe(8);
    expect(control.blcksz).toBe(8192);
    expect(fs.statSync(path.join(dataDir, XLOG_CONTROL_FILE)).size).toBe(8192);
  });

  it("by default: data checksums off, as initdb without -k", () => {
    const dataDir = tempDir();
    initBufferPool({ variant: "disk", bufferCount: 16, dataDir });
    const control = readControlFile(path.join(dataDir, XLOG_CONTROL_FILE));
    expect(control.dataChecksumVersion).toBe(0);
    expect(control.relsegSize).toBe(131072);
  });

  it("a memory-only pool (no files) takes the option too; it must be a boolean", () => {
    expect(() =>
      initBufferPool({ variant: "memory", bufferCount: 16, dataChecksums: true }),
    ).not.toThrow();
    expect(() =>
      initBufferPool({
        variant: "disk",
        bufferCount: 16,
        dataDir: tempDir(),
        dataChecksums: "yes" as unknown as boolean,
      }),
    ).toThrow("dataChecksums must be true or false, got yes");
  });
});
