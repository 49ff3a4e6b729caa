// The Conductor JavaScript SDK's TaskManager as a worker service for bench/serve_bench.py:
//   node serve_sdk_worker.mjs <server url> <folder of its package.json (tests/server/js)> <poll interval ms> <concurrency>
// Completes every `bench_sdk` task at once; prints "polling" when started, runs until killed.
import { createRequire } from "node:module";
import path from "node:path";

const [serverUrl, sdkHome, interval, concurrency] = process.argv.slice(2);
const require = createRequire(path.join(sdkHome, "package.json"));
const { OrkesClients, TaskManager } = require("@io-orkes/conductor-javascript");

const clients = await OrkesClients.from({ serverUrl, useEnvVars: false });
const manager = new TaskManager(
  clients.getClient(),
  [{ taskDefName: "bench_sdk", execute: async () => ({ status: "COMPLETED", outputData: { ok: true } }) }],
  { options: { pollInterval: Number(interval), concurrency: Number(concurrency) } },
);
manager.startPolling();
console.log("polling");
