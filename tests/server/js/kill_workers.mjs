// TaskManager workers for tests/server/test_restart_javascript.py, until killed:
//   node kill_workers.mjs <server url> <file each run's task id is appended to>
// `js_step` adds 1 to its input n; every run is recorded before it answers (a task run twice shows twice).
import { appendFileSync } from "node:fs";
import { OrkesClients, TaskManager } from "@io-orkes/conductor-javascript";

const [serverUrl, runs] = process.argv.slice(2);
const clients = await OrkesClients.from({ serverUrl, useEnvVars: false });
const manager = new TaskManager(
  clients.getClient(),
  [
    {
      taskDefName: "js_step",
      execute: async (task) => {
        appendFileSync(runs, `${task.taskId}\n`);
        return { status: "COMPLETED", outputData: { n: task.inputData.n + 1 } };
      },
    },
  ],
  { options: { pollInterval: 20, concurrency: 4 } },
);
manager.startPolling();
console.log("polling");
