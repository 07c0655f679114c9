/**
 * The README's tutorial sessions, replayed: each block marked `<!-- session -->` is a transcript
 * (`clock> ` + a command, then what it printed). Running its commands must print it exactly.
 */
import * as fs from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ClockSession } from "../src/repl/clock-session.js";

const readme = fs.readFileSync(fileURLToPath(new URL("../README.md", import.meta.url)), "utf8");
const sessions = [...readme.matchAll(/<!-- session -->\s*```text\n([\s\S]*?)```/g)].map(
  (m) => m[1]!,
);

describe("README tutorial", () => {
  it("has the sessions the tutorial walks through", () => {
    expect(sessions.length).toBeGreaterThanOrEqual(7);
  });

  sessions.forEach((transcript, i) => {
    it(`session ${i + 1} prints what the README shows`, () => {
      const commands = transcript
        .split("\n")
        .filter((l) => l.startsWith("clock> "))
        .map((l) => l.slice("clock> ".length));
      let printed = "";
      const session = new ClockSession({ bufferCount: 8, write: (t) => (printed += t) });
      expect(session.runScript(commands.join("\n"))).toBeUndefined();
      expect(printed).toBe(transcript);
    });
  });
});
