// Writes a dml run's report again from its dml.json, with the ratios computed anew by this
// checkout's comparisons (DML_COMPARISONS): for a run made before a comparison or goal was added.
// The measured seconds are the JSON's own; nothing is run.
//   npm run build && node packages/bench/scripts/render-dml.mjs packages/bench/results/<dir>

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = process.argv[2];
if (dir === undefined) {
  console.error("usage: node render-dml.mjs <directory with dml.json>");
  process.exit(2);
}
const { computeRatios } = await import(path.join(here, "../dist/dml.js"));
const { writeDmlReport } = await import(path.join(here, "../dist/dml-report.js"));
const file = path.join(dir, "dml.json");
const result = JSON.parse(fs.readFileSync(file, "utf8"));
result.ratios = computeRatios(result.results);
for (const written of await writeDmlReport(result, dir)) console.log(written);
