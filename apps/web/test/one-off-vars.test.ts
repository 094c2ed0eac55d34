// `fly execute` without -j: the one-off build's ((vars)) come from the cluster's credential manager in the
// team's context only (Concourse's build.Variables: a build without a pipeline looks `<team>/<var>` up, no
// pipeline path), and every value it yields is redacted in the build's output.
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  createBuild,
  executePlan,
  logText,
  readBuildEvents,
  statusesOf,
  type EnvelopeEvent,
  type TaskConfigJson,
} from './execute-client.js';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';

let server: TestServer;
let token: string;
const credentials = path.join(os.tmpdir(), `jetbridge-one-off-creds-${process.pid}.yml`);

beforeAll(async () => {
  await writeFile(
    credentials,
    [
      'main/api-token: t0ken-for-one-offs',
      'main/registry: {username: bot, password: pa55-in-a-map}',
      'main/some-pipeline/pipeline-only: never-for-one-offs',
      '',
    ].join('\n'),
  );
  server = await startTestServer({ env: { JETBRIDGE_CREDENTIALS_FILE: credentials } });
  token = await loginToken(server.url, ADMIN);
});

afterAll(async () => {
  await server?.destroy();
  await rm(credentials, { force: true });
});

/** Run a one-off task with these params as `fly execute` would; its events once it ended. */
async function executeTask(params: Record<string, string>, script: string): Promise<EnvelopeEvent[]> {
  const config: TaskConfigJson = { platform: 'linux', params, run: { path: 'sh', args: ['-c', script] } };
  const response = await createBuild(server.url, token, 'main', executePlan(config, [], []));
  expect(response.status).toBe(201);
  const build = (await response.json()) as { id: number };
  return (await readBuildEvents(server.url, token, build.id)).events;
}

describe('one-off builds resolve ((vars)) from the team credentials', () => {
  it('the task sees the values; the output shows them redacted', async () => {
    const events = await executeTask(
      { TOKEN: '((api-token))', REGISTRY_PASSWORD: '((registry.password))' },
      // The lengths prove the task got the real values without printing them in the clear.
      'echo "token is $TOKEN (${#TOKEN} chars)"; echo "password is $REGISTRY_PASSWORD (${#REGISTRY_PASSWORD} chars)"',
    );
    expect(statusesOf(events)).toEqual(['started', 'succeeded']);
    const log = logText(events);
    expect(log).toContain('token is ((redacted)) (18 chars)');
    expect(log).toContain('password is ((redacted)) (13 chars)');
    expect(JSON.stringify(events)).not.toMatch(/t0ken-for-one-offs|pa55-in-a-map/);
  });

  it('an undefined var errors the build with Concourse’s message; pipeline secrets are not looked at', async () => {
    const events = await executeTask({ A: '((pipeline-only))', B: '((nowhere))' }, 'echo ran');
    expect(statusesOf(events)).toEqual(['started', 'errored']);
    expect(events.find((event) => event.event === 'error')?.data['message']).toBe(
      'failed to interpolate task config: undefined vars: nowhere, pipeline-only',
    );
    expect(logText(events)).not.toContain('ran');
  });
});
