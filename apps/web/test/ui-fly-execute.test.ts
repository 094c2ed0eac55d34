// A build made by the real `fly execute` (8.2.5: its own plan ids, an uploaded input, a downloaded output), on
// its page in a real headless Chromium, opened while it runs (as from the link fly prints) and again once it
// finished: the steps are headed as Concourse's UI heads them — the task `task: one-off`, the uploaded input
// `get: src`, the output fly downloads `put: out` — and no step is left as an unnamed `step: <plan id>`.
// Needs fly (FLY_BIN or /tmp/flybin/fly) and Debian's Chromium; skipped with a message without either.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Browser, type Page } from 'playwright-core';
import { FLY_SKIP_REASON, FlyCli, flyAvailable } from './fly-cli.js';
import { ADMIN, loginToken, startTestServer, until, type TestServer } from './harness.js';
import {
  artifactsDir,
  assertUiBuilt,
  describeInBrowser,
  launchChromium,
  loginThroughUi,
  screenshotAt,
} from './ui-browser.js';

const TASK = `
platform: linux
image_resource: {type: registry-image, source: {repository: busybox}}
inputs: [{name: src}]
outputs: [{name: out}]
run:
  path: sh
  args: [-ec, 'cat src/greeting; cp src/greeting out/copied; sleep 3; echo done']
`;

let server: TestServer;
let token: string;
let fly: FlyCli;
let browser: Browser;
let page: Page;
let workDir: string;

/** The step headers in view, as `type: name` (the virtualized list draws every row of a short build). */
async function stepHeaders(): Promise<string[]> {
  return page
    .locator('.step-header')
    .evaluateAll((headers) =>
      headers.map(
        (h) =>
          `${h.querySelector('.step-type')?.textContent ?? ''} ${h.querySelector('.step-name')?.textContent ?? ''}`,
      ),
    );
}

const suite = flyAvailable ? describeInBrowser('the fly execute build page test') : describe.skip;
if (!flyAvailable) console.warn(`skipping the fly execute build page test: ${FLY_SKIP_REASON}`);

suite('a fly execute build on its page', () => {
  beforeAll(async () => {
    assertUiBuilt();
    server = await startTestServer();
    token = await loginToken(server.url, ADMIN);
    fly = await FlyCli.login(server.url, ADMIN);
    workDir = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-ui-execute-'));
    await mkdir(path.join(workDir, 'src'));
    await writeFile(path.join(workDir, 'src', 'greeting'), 'hello from the input\n');
    await writeFile(path.join(workDir, 'task.yml'), TASK);
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
    await loginThroughUi(page, server.url, ADMIN);
  });

  afterAll(async () => {
    await browser?.close();
    await fly?.dispose();
    await server?.destroy();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('heads the task `task: one-off` and the artifacts `get:`/`put:`, while running and once finished', async () => {
    const outDir = path.join(workDir, 'out');
    const run = fly.run(
      ['execute', '-c', 'task.yml', '-i', `src=${path.join(workDir, 'src')}`, '-o', `out=${outDir}`],
      {
        cwd: workDir,
      },
    );
    const build = await until('fly to create the build', async () => {
      const res = await fetch(`${server.url}/api/v1/builds`, {
        headers: { authorization: `Bearer ${token}` },
      });
      const builds = (await res.json()) as Array<{ id: number; status: string }>;
      return builds[0];
    });

    // Opened while it runs.
    await page.goto(`${server.url}/builds/${build.id}`);
    await page.locator('.log-line', { hasText: 'hello from the input' }).waitFor({ timeout: 30_000 });
    await page.locator('.build-header[data-status="started"]').waitFor();
    expect(await stepHeaders()).toEqual(['get: src', 'task: one-off', 'put: out']);
    await screenshotAt(page, await artifactsDir('ui'), 'fly-execute-running', 1280);

    const result = await run;
    expect(result.stdout).toContain('succeeded');
    expect(await readFile(path.join(outDir, 'copied'), 'utf8')).toBe('hello from the input\n');

    // And finished, from fresh loads: the whole event log arrives at once, often before the plan does (the
    // page drew the events and never the plan's step names: `step: <plan id>` for good).
    await page.locator('.build-header[data-status="succeeded"]').waitFor({ timeout: 30_000 });
    for (let load = 0; load < 4; load++) {
      await page.reload();
      await page.locator('.log-line', { hasText: 'done' }).waitFor({ timeout: 30_000 });
      // Whatever was still to come (the plan) has come by now.
      await page.waitForTimeout(300);
      expect(await stepHeaders()).toEqual(['get: src', 'task: one-off', 'put: out']);
    }
    const shot = await screenshotAt(page, await artifactsDir('ui'), 'fly-execute-succeeded', 1280);
    console.log(`fly execute build page: ${shot}`);
  });
});
