// pgsim-inspect as a user runs it: the BUILT bin (dist/inspect/cli.js, made by `tsc -b`, which
// `npm test` runs first) in a child process, on PostgreSQL's fixture files and on broken files.
// Also runs the examples of README.md and checks their output.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runInspect } from "../src/inspect/main.js";
import {
  type ChecksumsJson,
  FIXTURES_DIR,
  type ForksJson,
  fixtureCase,
  type PagesJson,
} from "./pg15-fixture-cases.js";

const CLI = fileURLToPath(new URL("../dist/inspect/cli.js", import.meta.url));
const README = fileURLToPath(new URL("../src/inspect/README.md", import.meta.url));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function inspect(args: string[], cwd = FIXTURES_DIR): Run {
  const result = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function json(run: Run): unknown {
  expect(run.stderr).toBe("");
  expect(run.status).toBe(0);
  return JSON.parse(run.stdout);
}

/** A failure as the user sees it: the status, one `pgsim-inspect: ...` line, no stack trace. */
function expectFailure(run: Run, status: number, message: string | RegExp): void {
  expect(run.status).toBe(status);
  expect(run.stderr).not.toMatch(/^\s+at /m);
  const [first] = run.stderr.split("\n");
  expect(first).toMatch(/^pgsim-inspect: /);
  if (typeof message === "string") expect(first).toBe(`pgsim-inspect: ${message}`);
  else expect(first).toMatch(message);
  if (status === 1) expect(run.stderr.split("\n").filter((l) => l !== "")).toHaveLength(1);
  if (status === 2) expect(run.stderr).toMatch(/\nusage: pgsim-inspect <command> FILE/);
}

const scratch = mkdtempSync(join(tmpdir(), "pgsim-inspect-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function scratchFile(name: string, bytes: Uint8Array): string {
  const path = join(scratch, name);
  writeFileSync(path, bytes);
  return path;
}

it("the bin is built (run `npx tsc -b` first) and starts with a node shebang", () => {
  expect(existsSync(CLI)).toBe(true);
  expect(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n")).toBe(true);
});

/** pd_checksum as pageinspect's smallint columns show it (the fixtures keep it unsigned). */
const signed = (checksum: number) => (checksum << 16) >> 16;

describe("on PostgreSQL's files", () => {
  const f09 = fixtureCase("09-multipage-vacuumed");

  it("page-header prints pages.json's headers (checksum signed), --block narrows to one block", () => {
    const expected = f09.json<PagesJson>("pages.json").blocks.map((b) => ({
      block: b.block,
      ...b.header,
      checksum: signed(b.header.checksum as number),
    }));
    // The fixture has checksums above 32767, which pageinspect shows negative.
    expect(expected.some((row) => row.checksum < 0)).toBe(true);
    expect(json(inspect(["page-header", f09.path("main.bin")]))).toEqual(expected);
    expect(json(inspect(["page-header", f09.path("main.bin"), "--block", "4"]))).toEqual([
      expected[4],
    ]);
  });

  it("checksum prints checksums.json's rows for each fork, checksums signed", () => {
    const expected = f09.json<ChecksumsJson>("checksums.json");
    const signedRows = (rows: ChecksumsJson["main"]) =>
      rows?.map(({ computed_if_block: _, ...row }) => ({
        ...row,
        stored: signed(row.stored),
        ...(row.computed === undefined ? {} : { computed: signed(row.computed) }),
      }));
    expect(json(inspect(["checksum", f09.path("main.bin")]))).toEqual(signedRows(expected.main));
    expect(json(inspect(["checksum", f09.path("fsm.bin")]))).toEqual(signedRows(expected.fsm));
    expect(json(inspect(["checksum", f09.path("vm.bin"), "--block", "0"]))).toEqual(
      signedRows(expected.vm),
    );
  });

  it("fsm and vm print pg_freespace and pg_visibility_map", () => {
    const forks = f09.json<ForksJson>("forks.json");
    expect(json(inspect(["fsm", f09.path("fsm.bin"), "--heap-blocks", "9"]))).toEqual(
      forks.fsm?.pg_freespace,
    );
    expect(json(inspect(["vm", f09.path("vm.bin"), "--heap-blocks", "9"]))).toEqual(
      forks.vm?.pg_visibility_map,
    );
    expect(json(inspect(["fsm", f09.path("fsm.bin"), "--block", "3"]))).toEqual([
      { blkno: 3, avail: 6560 },
    ]);
    expect(json(inspect(["fsm-page-contents", f09.path("fsm.bin"), "--block", "2"]))).toEqual([
      { block: 2, fsm_page_contents: forks.fsm?.pages[2]?.fsm_page_contents },
    ]);
  });

  it("heap-page-items and rows dispatch to the tuple decoders", () => {
    const fixture = fixtureCase("07-vacuum-pruned");
    const pages = fixture.json<PagesJson>("pages.json");
    const items = json(
      inspect([
        "heap-page-items",
        fixture.path("main.bin"),
        "--columns",
        fixture.path("case.json"),
      ]),
    );
    expect(items).toEqual(pages.blocks.map(({ block, items }) => ({ block, items })));
    // rows: every LP_NORMAL tuple is a row or counted as hidden, here invisible (the commit log
    // knows every xid). 07 has none left after its VACUUM; 10 has deleted ones.
    const hiddenCounts = ["07-vacuum-pruned", "10-dropped-and-added-columns"].map((name) => {
      const c = fixtureCase(name);
      const { columns, rows } = c.json<{ columns: string[]; rows: unknown[][] }>("rows.json");
      const tuples = c
        .json<PagesJson>("pages.json")
        .blocks.flatMap((b) => b.items)
        .filter((i) => i.lp_flags === 1).length;
      const decoded = json(
        inspect([
          "rows",
          c.path("main.bin"),
          "--columns",
          c.path("case.json"),
          "--xact",
          join(FIXTURES_DIR, "pg_xact.bin"),
        ]),
      );
      expect(decoded).toEqual({
        columns,
        rows,
        hidden: { invisible: tuples - rows.length, status_unknown: 0 },
      });
      return tuples - rows.length;
    });
    expect(hiddenCounts).toEqual([0, 3]);
  });
});

describe("output format", () => {
  const f09 = fixtureCase("09-multipage-vacuumed");
  const main = f09.path("main.bin");

  it("text on a terminal, JSON otherwise; --json and --format choose", () => {
    const tty = runInspect(["page-header", main, "--block", "0"], { stdoutIsTTY: true });
    expect(tty.exitCode).toBe(0);
    expect(tty.stdout.split("\n").slice(0, 2)).toEqual([
      " block |    lsn    | checksum | flags | lower | upper | special | pagesize | version | prune_xid |            flag_names            ",
      "-------+-----------+----------+-------+-------+-------+---------+----------+---------+-----------+----------------------------------",
    ]);
    expect(tty.stdout.endsWith("(1 row)\n\n")).toBe(true);
    const piped = runInspect(["page-header", main, "--block", "0"]);
    expect(JSON.parse(piped.stdout)).toHaveLength(1);
    expect(
      runInspect(["page-header", main, "--block", "0", "--json"], { stdoutIsTTY: true }).stdout,
    ).toBe(piped.stdout);
    expect(runInspect(["page-header", main, "--block", "0", "--format", "text"]).stdout).toBe(
      tty.stdout,
    );
    expect(runInspect(["page-header", main, "--format", "xml"]).stderr).toContain(
      "--format must be text or json, got 'xml'",
    );
    expect(runInspect(["page-header", main, "--json", "--format", "text"]).exitCode).toBe(2);
  });

  it("every command has a text form carrying the JSON's values", () => {
    const text = (args: string[]) => {
      const result = runInspect([...args, "--format", "text"]);
      expect(result.stderr).toBe("");
      return result.stdout;
    };
    const forks = f09.json<ForksJson>("forks.json");
    const fsm = text(["fsm", f09.path("fsm.bin"), "--heap-blocks", "9"]).split("\n");
    expect(
      fsm.slice(2, 11).map((line) =>
        line
          .trim()
          .split(/\s*\|\s*/)
          .map(Number),
      ),
    ).toEqual(forks.fsm?.pg_freespace.map((r) => [r.blkno, r.avail]));
    const vm = text(["vm", f09.path("vm.bin"), "--heap-blocks", "9"]).split("\n");
    expect(vm.slice(2, 11).map((line) => line.trim().split(/\s*\|\s*/))).toEqual(
      forks.vm?.pg_visibility_map.map((r) => [
        String(r.blkno),
        r.all_visible ? "t" : "f",
        r.all_frozen ? "t" : "f",
      ]),
    );
    expect(text(["fsm-page-contents", f09.path("fsm.bin"), "--block", "2"])).toBe(
      `block 2:\n${forks.fsm?.pages[2]?.fsm_page_contents}\n`,
    );
    expect(text(["heap-page-items", main, "--block", "8"])).toMatch(/^block 8:\n lp \| lp_off \|/);
    expect(text(["rows", main, "--columns", f09.path("case.json"), "--block", "8"])).toMatch(
      /^ {2}ctid {2}\| id {2}\| kind \|/,
    );
  });
});

describe("help and usage errors", () => {
  it("--help lists every command and exits 0; each command has its own --help", () => {
    const top = inspect(["--help"]);
    expect(top.status).toBe(0);
    const commands = [
      "page-header",
      "heap-page-items",
      "rows",
      "checksum",
      "fsm",
      "fsm-page-contents",
      "vm",
    ];
    for (const command of commands) {
      expect(top.stdout).toContain(`  ${command} `);
      const help = inspect([command, "--help"]);
      expect(help.status).toBe(0);
      expect(help.stdout.startsWith(`usage: pgsim-inspect ${command} FILE`)).toBe(true);
    }
  });

  it.each([
    [[], "no command given"],
    [["frobnicate", "x"], "unknown command 'frobnicate'"],
    [["--version"], "unknown option '--version'"],
    [["page-header", "x", "--frob"], "Unknown option '--frob'"],
    [["checksum", "x", "--heap-blocks", "3"], "Unknown option '--heap-blocks'"],
    [["page-header"], "page-header takes exactly one FILE, got 0"],
    [["page-header", "a", "b"], "page-header takes exactly one FILE, got 2"],
    [
      ["page-header", "x", "--block", "abc"],
      "--block needs a whole number from 0 to 4294967294, got 'abc'",
    ],
    [["page-header", "x", "--block", "-1"], "Option '--block' argument is ambiguous"],
    [["rows", "x"], "rows needs --columns COLUMNS.json"],
    [
      ["fsm", "x", "--block", "1", "--heap-blocks", "2"],
      "--block and --heap-blocks cannot be used together",
    ],
  ])("%j → exit 2: %s", (args, message) => {
    expectFailure(inspect(args), 2, message);
  });
});

describe("bad files", () => {
  const f07 = fixtureCase("07-vacuum-pruned");
  const main07 = f07.bytes("main.bin");

  it("a missing file", () => {
    const path = join(scratch, "missing.bin");
    expectFailure(inspect(["page-header", path]), 1, `${path}: cannot read file: no such file`);
  });

  it("an empty file and a truncated file", () => {
    const empty = scratchFile("empty.bin", new Uint8Array(0));
    expectFailure(
      inspect(["page-header", empty]),
      1,
      `${empty}: file is empty: it holds no blocks`,
    );
    const truncated = scratchFile("truncated.bin", main07.subarray(0, 5000));
    for (const command of ["page-header", "checksum", "fsm", "vm", "heap-page-items"]) {
      expectFailure(
        inspect([command, truncated]),
        1,
        `${truncated}: file size 5000 is not a multiple of the block size 8192 (truncated file?)`,
      );
    }
  });

  it("random bytes are not a page", () => {
    const bytes = new Uint8Array(8192);
    let seed = 12345;
    for (let i = 0; i < bytes.length; i++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      bytes[i] = seed >>> 24;
    }
    bytes[14] = 1; // pd_upper is not 0, so it is not mistaken for an unused page
    const path = scratchFile("random.bin", bytes);
    for (const command of ["page-header", "fsm", "vm", "heap-page-items"]) {
      expectFailure(inspect([command, path]), 1, /: block 0: invalid page header: /);
    }
    // The commit log is a real file without page headers.
    expectFailure(
      inspect(["page-header", "pg_xact.bin"]),
      1,
      "pg_xact.bin: block 0: invalid page header: page size is 21760, expected 8192",
    );
  });

  it("a corrupted checksum fails verification unless --ignore-checksum", () => {
    const page = main07.slice();
    page[6000]! ^= 0x01; // one bit of tuple data
    const path = scratchFile("flipped.bin", page);
    const calculated = /calculated checksum (\d+) but expected 35288$/;
    for (const command of ["page-header", "heap-page-items"]) {
      expectFailure(inspect([command, path]), 1, calculated);
    }
    const ignored = json(inspect(["page-header", path, "--ignore-checksum"])) as Array<{
      checksum: number;
    }>;
    // pd_checksum 35288, shown signed as pageinspect does; the message keeps PostgreSQL's %u.
    expect(ignored[0]?.checksum).toBe(35288 - 65536);
    // checksum prints its rows, then reports the mismatch.
    const run = inspect(["checksum", path]);
    expectFailure(run, 1, calculated);
    const rows = JSON.parse(run.stdout) as Array<{ matches: boolean; computed: number }>;
    expect(rows[0]?.matches).toBe(false);
    expect(run.stderr).toContain(`calculated checksum ${rows[0]?.computed} but`);
  });

  it("a report too long to print", () => {
    const fsm = fixtureCase("09-multipage-vacuumed").path("fsm.bin");
    expectFailure(
      inspect(["vm", fsm, "--heap-blocks", "4294967295"]),
      1,
      `${fsm}: 4294967295 heap blocks are more than the 4000000 rows a report prints; ask for one block at a time`,
    );
    expect(json(inspect(["fsm", fsm, "--block", "4294967294"]))).toEqual([
      { blkno: 4294967294, avail: 0 },
    ]);
  });

  it("an impossible header, and a block past the end", () => {
    const page = main07.slice();
    page[12] = 0xff; // pd_lower = 0x01ff > pd_upper
    page[13] = 0x1f;
    const path = scratchFile("lower.bin", page);
    expectFailure(
      inspect(["page-header", path]),
      1,
      `${path}: block 0: invalid page header: corrupted page pointers: lower = 8191, upper = 3808, special = 8192`,
    );
    expectFailure(
      inspect(["page-header", f07.path("main.bin"), "--block", "1"]),
      1,
      `${f07.path("main.bin")}: block 1 is out of range: the file has 1 block`,
    );
  });
});

describe("README.md examples", () => {
  // Each ```console block holds `$ pgsim-inspect ...` lines, each followed by its exact output
  // (stdout, then stderr), run from the fixture directory.
  const text = readFileSync(README, "utf8");
  const blocks = [...text.matchAll(/```console\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const examples = blocks.flatMap((block) =>
    block
      .split(/^\$ /m)
      .filter((chunk) => chunk.trim() !== "")
      .map((chunk) => {
        const [command = "", ...output] = chunk.split("\n");
        return { command, output: output.join("\n").trimEnd() };
      }),
  );

  it("has examples, in both formats", () => {
    expect(examples.length).toBeGreaterThanOrEqual(8);
    expect(examples.some((e) => e.command.includes("--format text"))).toBe(true);
    expect(examples.some((e) => e.command.includes("--json"))).toBe(true);
  });

  // Trailing blanks are not compared: psql's format pads header cells, an editor may not keep it.
  const normalize = (text: string) =>
    text
      .split("\n")
      .map((line) => line.trimEnd())
      .join("\n")
      .trimEnd();

  it.each(examples.map((e) => [e.command, e] as const))("%s", (_command, example) => {
    const [program, ...args] = example.command.split(/\s+/);
    expect(program).toBe("pgsim-inspect");
    const run = inspect(args);
    expect(normalize(`${run.stdout}${run.stderr}`)).toBe(normalize(example.output));
  });
});
