// CPU time of memheap's DELETE and VACUUM, for before/after comparisons on a loaded machine
// (RESULTS.md, "Issue 15: VACUUM and DELETE per row"):
//   npm run build && REPS=6 node packages/bench/scripts/cpu-dml.mjs [ROOT]
// Builds REPS fresh 1,000,000-row tables (ROWS to change it) in this process, each with
// dml-worker.ts's columnar insert and compiled UPDATE, then measures `deleteAll` and VACUUM with
// process.cpuUsage (all threads) and the wall clock. The first table includes the JIT's warm-up.
// ROOT is a checkout whose packages/heap-am/dist is compared (default: this one). With PROF=path,
// the last table's two statements are profiled (V8 inspector, 0.5 ms) into path-<step>.cpuprofile.

import fs from "node:fs";
import inspector from "node:inspector";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.argv[2] ?? path.join(here, "../../..");
const { Database } = await import(path.join(root, "packages/heap-am/dist/index.js"));
const { memheapBufferCount } = await import(path.join(here, "../dist/dml-pgsim.js"));
const rows = Number(process.env.ROWS ?? 1000000);
const reps = Number(process.env.REPS ?? 3);
const prof = process.env.PROF;
const session = new inspector.Session();
session.connect();
const post = (m, p) =>
  new Promise((ok, no) => session.post(m, p ?? {}, (e, r) => (e ? no(e) : ok(r))));
if (prof) {
  await post("Profiler.enable");
  await post("Profiler.setSamplingInterval", { interval: 500 });
}
const results = { delete: [], vacuum: [] };
for (let r = 0; r < reps; r++) {
  const db = Database.create({
    variant: "memory",
    bufferCount: memheapBufferCount(rows),
    checksums: false,
  });
  db.createTable("accounts", [
    { name: "aid", type: "int4", notNull: true },
    { name: "abalance", type: "int4", notNull: true },
  ]);
  let tx = db.begin();
  const aid = new Int32Array(1000);
  const abalance = new Int32Array(1000);
  tx.insertBatches(
    "accounts",
    rows,
    (first, count) => {
      for (let i = 0; i < count; i++) aid[i] = first + i + 1;
      return { columns: [aid.subarray(0, count), abalance.subarray(0, count)] };
    },
    { batchRows: 1000 },
  );
  tx.commit();
  tx = db.begin();
  tx.updateAll("accounts", { abalance: { add: 1 } });
  tx.commit();
  const profiled = prof !== undefined && r === reps - 1;
  const measure = async (step, f) => {
    if (profiled) await post("Profiler.start");
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    f();
    const c = process.cpuUsage(c0);
    results[step].push({ cpuMs: (c.user + c.system) / 1000, wallMs: performance.now() - w0 });
    if (profiled) {
      const { profile } = await post("Profiler.stop");
      fs.writeFileSync(`${prof}-${step}.cpuprofile`, JSON.stringify(profile));
    }
  };
  await measure("delete", () => {
    const t = db.begin();
    t.deleteAll("accounts");
    t.commit();
  });
  await measure("vacuum", () => db.vacuum("accounts"));
  db.close();
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
for (const [step, runs] of Object.entries(results)) {
  const cpu = runs.map((x) => x.cpuMs);
  console.log(
    `${step}: cpu ms ${cpu.map((x) => x.toFixed(0)).join(" ")} (median ${median(cpu).toFixed(0)});` +
      ` wall ms ${runs.map((x) => x.wallMs.toFixed(0)).join(" ")}`,
  );
}
