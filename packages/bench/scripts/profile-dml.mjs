// Profiles of `pgsim-bench dml`'s statements (RESULTS.md, "What is behind each miss"):
//   npm run build && SYSTEM=pgsim-memheap ROWS=20000000 OUT=prof-out node packages/bench/scripts/profile-dml.mjs
// SYSTEM is pgsim-memheap, pgsim-heap-unlogged or pgsim-heap. Replays dml-worker.ts's steps with
// the same options (columnar insert, compiled UPDATE, VACUUM), each under the V8 profiler
// (inspector, 1 ms sampling); writes OUT/<system>-<step>.cpuprofile and OUT/<system>.json (CPU
// ms and the top self-time entries of each statement) and prints the JSON.

import fs from "node:fs";
import inspector from "node:inspector";
import os from "node:os";
import path from "node:path";

const { Database } = await import("../../heap-am/dist/index.js");
const { PGSIM_SETUPS, memheapBufferCount } = await import("../dist/dml-pgsim.js");
const system = process.env.SYSTEM ?? "pgsim-memheap";
const outDir = process.env.OUT ?? os.tmpdir();
fs.mkdirSync(outDir, { recursive: true });
const rows = Number(process.env.ROWS ?? 20000000);
const setup = PGSIM_SETUPS[system];
const disk = setup.variant === "disk";
const dataDir = disk
  ? `${fs.mkdtempSync(path.join(os.tmpdir(), "pgsim-prof20-"))}/data`
  : undefined;
const db = Database.create({
  variant: setup.variant,
  bufferCount: setup.bufferCount ?? memheapBufferCount(rows),
  ...(dataDir ? { dataDir } : {}),
  checksums: false,
  ...(setup.wal ? { wal: true, ...setup.wal } : {}),
});
db.createTable(
  "accounts",
  [
    { name: "aid", type: "int4", notNull: true },
    { name: "abalance", type: "int4", notNull: true },
  ],
  setup.unlogged ? { unlogged: true } : {},
);
const s = new inspector.Session();
s.connect();
const post = (m, p) =>
  new Promise((res, rej) => s.post(m, p ?? {}, (e, r) => (e ? rej(e) : res(r))));
await post("Profiler.enable");
await post("Profiler.setSamplingInterval", { interval: 1000 });
const out = {};
async function step(name, f) {
  await post("Profiler.start");
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  f();
  const c = process.cpuUsage(c0);
  const wall = performance.now() - w0;
  const { profile } = await post("Profiler.stop");
  fs.writeFileSync(path.join(outDir, `${system}-${name}.cpuprofile`), JSON.stringify(profile));
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  let total = 0;
  profile.samples.forEach((id, i) => {
    const n = byId.get(id);
    const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").slice(-1)[0]}`;
    const dt = profile.timeDeltas[i] ?? 0;
    self.set(k, (self.get(k) ?? 0) + dt);
    total += dt;
  });
  const top = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 14)
    .map(([k, v]) => `${k.replace(/\.js$/, "")} ${((100 * v) / total).toFixed(1)} %`);
  out[name] = { wallMs: Math.round(wall), cpuMs: Math.round((c.user + c.system) / 1000), top };
  console.error(system, name, out[name].wallMs, "ms wall", out[name].cpuMs, "ms cpu");
}
await step("insert", () => {
  const tx = db.begin();
  let aid = new Int32Array(0),
    ab = new Int32Array(0);
  tx.insertBatches(
    "accounts",
    rows,
    (first, count) => {
      if (aid.length < count) {
        aid = new Int32Array(count);
        ab = new Int32Array(count);
      }
      for (let i = 0; i < count; i++) aid[i] = first + i + 1;
      return { columns: [aid.subarray(0, count), ab.subarray(0, count)] };
    },
    { batchRows: 1000 },
  );
  tx.commit();
});
await step("update", () => {
  const tx = db.begin();
  tx.updateAll("accounts", { abalance: { add: 1 } });
  tx.commit();
});
await step("delete", () => {
  const tx = db.begin();
  tx.deleteAll("accounts");
  tx.commit();
});
await step("vacuum", () => {
  db.vacuum("accounts");
});
db.close?.() ?? db.shutdown?.();
if (dataDir) fs.rmSync(path.dirname(dataDir), { recursive: true, force: true });
fs.writeFileSync(path.join(outDir, `${system}.json`), JSON.stringify(out, null, 1));
console.log(JSON.stringify(out, null, 1));
