// The README of the PostgreSQL 15 fixture set says which server made it and, per case, the SQL
// that made it. That SQL must be exactly the statements recorded in the case's case.json (the
// generator wrote those as it ran them), so the README cannot drift from the data.

import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FIXTURES_DIR, fixtureCases } from "../packages/heap-am/test/pg15-fixture-cases.js";

const readme = fs.readFileSync(path.join(FIXTURES_DIR, "README.md"), "utf8");
const index = JSON.parse(fs.readFileSync(path.join(FIXTURES_DIR, "index.json"), "utf8")) as {
  server_version: string;
  cases: { name: string }[];
};

/** The ```sql block under "### NAME" in the section "The SQL of each case". */
function sqlOfCase(name: string): string | undefined {
  const section = readme.split("## The SQL of each case")[1] ?? "";
  const start = section.indexOf(`### ${name}\n`);
  if (start < 0) return undefined;
  return /```sql\n([\s\S]*?)```/.exec(section.slice(start))?.[1];
}

describe("test/fixtures/pg15-heap/README.md", () => {
  it("names the PostgreSQL version that wrote the set, as index.json records it", () => {
    expect(index.server_version).toBe("15.18 (Debian 15.18-0+deb12u1)");
    expect(readme).toContain(`PostgreSQL ${index.server_version}`);
    expect(readme).toContain("## How to regenerate");
  });

  const cases = fixtureCases();
  it("has a SQL block for every case folder, and only for them", () => {
    expect(cases.map((c) => c.name)).toEqual(index.cases.map((c) => c.name));
    const headings = [...readme.matchAll(/^### (\d\d-[\w-]+)$/gm)].map((m) => m[1]);
    expect(headings).toEqual(cases.map((c) => c.name));
  });

  for (const c of cases) {
    it(`${c.name}: the README's SQL is case.json's statements, in order`, () => {
      const { statements } = c.json<{ statements: string[] }>("case.json");
      expect(statements.at(-1)).toBe("CHECKPOINT");
      expect(sqlOfCase(c.name)).toBe(`${statements.join(";\n\n")};\n`);
    });
  }
});
