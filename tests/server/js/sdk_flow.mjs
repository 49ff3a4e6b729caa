// The Conductor JavaScript SDK (v4), unchanged, against `flowkit serve`: node sdk_flow.mjs <server url>
// Registers definitions, runs TaskManager workers, steers an execution, prints a JSON report.
import { OrkesClients, TaskManager } from "@io-orkes/conductor-javascript";

const serverUrl = process.argv[2];
const clients = await OrkesClients.from({ serverUrl, useEnvVars: false });
const metadata = clients.getMetadataClient();
const workflows = clients.getWorkflowClient();
const report = {};

await metadata.registerTasks([
  { name: "js_double", retryCount: 0, timeoutSeconds: 60, responseTimeoutSeconds: 10 },
  { name: "js_flaky", retryCount: 2, retryLogic: "FIXED", retryDelaySeconds: 0, timeoutSeconds: 60, responseTimeoutSeconds: 10 },
  { name: "js_idle", retryCount: 0, timeoutSeconds: 0, responseTimeoutSeconds: 10 },
]);
await metadata.registerWorkflowDef({
  name: "js_flow", version: 1, schemaVersion: 2,
  tasks: [
    { name: "js_double", taskReferenceName: "double", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } },
    { name: "js_flaky", taskReferenceName: "flaky", type: "SIMPLE", inputParameters: { n: "${double.output.n}" } },
  ],
  outputParameters: { n: "${flaky.output.n}", attempt: "${flaky.output.attempt}" },
}, true);
await metadata.registerWorkflowDef({
  name: "js_ops", version: 1, schemaVersion: 2,
  tasks: [{ name: "js_idle", taskReferenceName: "idle", type: "SIMPLE", inputParameters: {} }],
}, true);

const manager = new TaskManager(clients.getClient(), [
  { taskDefName: "js_double", execute: async (task) => ({ status: "COMPLETED", outputData: { n: task.inputData.n * 2 } }) },
  {
    taskDefName: "js_flaky",
    execute: async (task) => {
      if (task.retryCount === 0) throw new Error("first attempt fails");
      return { status: "COMPLETED", outputData: { n: task.inputData.n + 1, attempt: task.retryCount } };
    },
  },
], { options: { pollInterval: 20, concurrency: 2 } });
manager.startPolling();

async function until(id, status) {
  for (let i = 0; i < 300; i++) {
    const wf = await workflows.getWorkflow(id, true);
    if (wf.status === status) return wf;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${id} never reached ${status}`);
}

const ids = [];
for (const n of [1, 2, 3]) ids.push(await workflows.startWorkflow({ name: "js_flow", version: 1, input: { n } }));
report.flows = [];
for (const id of ids) {
  const wf = await until(id, "COMPLETED");
  report.flows.push({ output: wf.output, statuses: wf.tasks.map((t) => t.status), workerId: wf.tasks[0].workerId });
}

const opsId = await workflows.startWorkflow({ name: "js_ops", version: 1, input: {} });
await workflows.pause(opsId);
report.paused = (await workflows.getWorkflow(opsId, false)).status;
await workflows.resume(opsId);
await workflows.terminate(opsId, "stop");
report.terminated = (await until(opsId, "TERMINATED")).reasonForIncompletion;
await workflows.retry(opsId, false);
report.retried = (await workflows.getWorkflow(opsId, false)).status;
await workflows.terminate(opsId, "again");
await workflows.reRun(opsId, { workflowInput: { again: true } });
const rerun = await workflows.getWorkflow(opsId, false);
report.rerun = { status: rerun.status, input: rerun.input };
await workflows.terminate(opsId, "done");

await manager.stopPolling();
console.log(JSON.stringify(report));
process.exit(0);
