// Drives a Baton pipeline from Temporal's own TypeScript client, as another
// service would: no Baton code, plain JSON in and out. Prints one JSON line per
// observation; tests/test_typescript_client.py checks them.
import {
  Client, Connection, WorkflowFailedError, WorkflowUpdateFailedError, defaultPayloadConverter,
} from '@temporalio/client';

const address = process.env.TEMPORAL_ADDRESS;
const taskQueue = process.env.BATON_TASK_QUEUE;
const id = process.env.BATON_WORKFLOW_ID;
const say = (what, value) => console.log(JSON.stringify({ what, value }));

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
async function until(handle, predicate, what) {
  for (let i = 0; i < 300; i++) {
    const status = await handle.query('status');
    if (predicate(status)) return status;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
async function rejection(promise) {
  try {
    await promise;
    return null;
  } catch (err) {
    if (err instanceof WorkflowUpdateFailedError) return err.cause?.message;
    throw err;
  }
}

const connection = await Connection.connect({ address });
const client = new Client({ connection, namespace: 'default' });
const input = {
  goal: 'Explain tides',
  stages: [
    { name: 'research', agent: 'researcher' },
    { name: 'draft', agent: 'writer', review: true },
    { name: 'edit', agent: 'editor' },
  ],
};
const handle = await client.workflow.start('PipelineWorkflow', {
  args: [input], taskQueue, workflowId: id, staticSummary: 'pipeline: Explain tides',
});

// The agent calls in flight, from the run's pending activities.
async function agentCalls() {
  const description = await handle.describe();
  return (description.raw.pendingActivities ?? []).filter((activity) => activity.activityType?.name === 'run_agent');
}
// Paused once research's call is in flight: a pause that reached the run before its
// first workflow task would hold research at its gate, with no answer being written.
for (let i = 0; i < 300 && (await agentCalls()).length === 0; i++) await sleep(20);
await handle.signal('pause');
say('paused', (await until(handle, (s) => s.state === 'paused', 'pause')).state);

// The answer research is writing, from its call's heartbeat details (docs/clients.md).
async function live() {
  for (const activity of await agentCalls()) {
    if (!activity.heartbeatDetails) continue;
    const [answer] = activity.heartbeatDetails.payloads.map((p) => defaultPayloadConverter.fromPayload(p));
    if (answer.chars > 0) return answer;
  }
  return null;
}
let writing = null;
for (let i = 0; i < 100 && !writing; i++) {
  writing = await live();
  if (!writing) await sleep(100);
}
say('live', writing && { stage: writing.stage, agent: writing.agent, partial: writing.tail.length < 600 });
await handle.signal('resume');
const waiting = await until(handle, (s) => s.awaiting_review === 'draft', 'review');
say('awaiting_review', waiting.awaiting_review);

say('feedback_rejected', await rejection(handle.executeUpdate('feedback', { args: [{ text: '   ' }] })));
const ack = await handle.executeUpdate('feedback', { args: [{ text: 'Use a beach analogy' }] });
say('feedback_accepted', ack.rerun_from);
const again = await until(handle, (s) => s.awaiting_review === 'draft' && s.stages[1].runs === 2, 'second draft');

say('approve_rejected', await rejection(handle.executeUpdate('approve', { args: [{ stage: 'draft', run: 1 }] })));
const approved = await handle.executeUpdate('approve', { args: [{ stage: 'draft', run: again.stages[1].runs }] });
say('approve_accepted', approved.message);

const result = await handle.result();
say('result_stages', Object.keys(result.outputs));
say('final_state', (await handle.query('status')).state);

// Bad input: the run fails at once with a stable type and structured details.
const bad = await client.workflow.start('PipelineWorkflow', { args: [{ goal: 42 }], taskQueue, workflowId: `${id}-bad` });
try {
  await bad.result();
  say('bad_input', null);
} catch (err) {
  if (!(err instanceof WorkflowFailedError)) throw err;
  say('bad_input', { type: err.cause?.type, details: err.cause?.details });
}
await connection.close();
