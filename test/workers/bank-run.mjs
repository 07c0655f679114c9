// Runs a bank on a cluster with two worker backends over an existing data directory, then shuts
// the cluster down cleanly (plain JavaScript over the built packages; see crash-bank.mjs).
// argv: dataDir, transfers per client
import { fileURLToPath } from "node:url";
import { Cluster } from "@pgsim/heap-am";

const [dataDir, perClientArg] = process.argv.slice(2);
const functionsModule = fileURLToPath(new URL("./crash-bank.mjs", import.meta.url));
const cluster = await Cluster.open(dataDir, { backends: 2, functionsModule, bufferCount: 1024 });
const recovered = cluster.startupReport?.recovered;
await cluster.call("setup", { accounts: 50, initial: 1000 });
let id = 1;
const perClient = Number(perClientArg ?? 150);
async function client() {
  for (let i = 0; i < perClient; i++) {
    const from = 1 + (i % 50);
    const to = 1 + ((i * 7 + 3) % 50);
    if (from === to) continue;
    await cluster.call("transfer", {
      id: id++,
      from,
      to,
      amount: 5,
      pad: 100,
      rollback: i % 13 === 0,
    });
  }
}
await Promise.all([client(), client(), client(), client()]);
await cluster.call("vacuum", { freeze: true });
await cluster.shutdown();
process.stdout.write(`${JSON.stringify({ recovered, transfers: id - 1 })}\n`);
