// The pipeline pages against the real API, in a real headless Chromium: log in through the UI; set a
// pipeline as fly does and unpause it; watch its dashboard card turn green as the scheduler runs the job
// (no reload); open the graph, the job, the build and its coloured log; pin a version with a comment on the
// resource page (checked through the API); abort a running job build from its page. A screenshot of each page
// goes to $JETBRIDGE_TEST_ARTIFACTS/ui or <repo>/.test-artifacts/ui. Skipped without /usr/bin/chromium.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { type Browser, type Page } from 'playwright-core';
import { ADMIN, loginToken, startTestServer, type TestServer } from './harness.js';
import { call, pipelineUrl, setPipeline } from './pipeline-client.js';
import { ensureJobScheduler } from './scheduler-wiring.js';
import {
  artifactsDir,
  assertUiBuilt,
  describeInBrowser,
  launchChromium,
  loginThroughUi,
  screenshotAt,
} from './ui-browser.js';

const PIPELINE = 'ui-demo';

// `hello` runs on the mock resource's first version and prints coloured lines; `slow` runs only when
// triggered, and sleeps long enough to be aborted.
const CONFIG = `
resources:
  - name: source
    type: mock
    source:
      initial_version: v1

jobs:
  - name: hello
    plan:
      - get: source
        trigger: true
      - task: greet
        config:
          platform: linux
          image_resource:
            type: registry-image
            source: { repository: busybox }
          inputs:
            - name: source
          run:
            path: sh
            args:
              - -ec
              - |
                printf '\\033[32mgreen from the pipeline\\033[0m\\n'
                printf 'plain \\033[1;31mbold red\\033[0m\\n'
                printf '\\033[34mblue for %s\\033[0m\\n' "$(cat source/version)"
                echo 'done greeting'

  - name: slow
    plan:
      - task: nap
        config:
          platform: linux
          image_resource:
            type: registry-image
            source: { repository: busybox }
          run:
            path: sh
            args: [-c, 'for i in 1 2 3; do echo "tick $i"; done; sleep 300']
`;

let server: TestServer;
let token: string;
let scheduler: { stop(): Promise<void> };
let browser: Browser;
let page: Page;
let shots: string;
let navigations = 0;

function screenshot(name: string, width = 1280): Promise<string> {
  return screenshotAt(page, shots, name, width);
}

async function atDesktop(): Promise<void> {
  await page.setViewportSize({ width: 1280, height: 800 });
}

describeInBrowser('the pipeline UI browser test')(
  'the pipeline pages in a browser, against the real API',
  () => {
    beforeAll(async () => {
      assertUiBuilt();
      server = await startTestServer({
        env: { CONCOURSE_LIDAR_SCANNER_INTERVAL: '250ms', CONCOURSE_RESOURCE_CHECKING_INTERVAL: '1s' },
      });
      token = await loginToken(server.url, ADMIN);
      scheduler = await ensureJobScheduler(server.server);
      shots = await artifactsDir('ui');
      console.log(`UI screenshots go to ${shots}`);
      browser = await launchChromium();
      page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
      page.on('pageerror', (err) => console.error(`page error: ${err.message}`));
      page.on('framenavigated', (frame) => {
        if (frame === page.mainFrame()) navigations++;
      });
    });

    afterAll(async () => {
      await browser?.close();
      await scheduler?.stop();
      await server?.destroy();
    });

    it('logs in through the UI', async () => {
      await loginThroughUi(page, server.url, ADMIN);
      expect(new URL(page.url()).pathname).toBe('/');
      expect(await page.evaluate("window.localStorage.getItem('csrf_token')")).toMatch(/^[0-9a-f]{64}$/);
    });

    it('shows a pipeline set as fly does on the dashboard, its job turning green without a reload', async () => {
      await page.goto(`${server.url}/`);
      await page.locator('.user-button').waitFor();
      const before = navigations;

      const saved = await setPipeline(server.url, token, 'main', PIPELINE, CONFIG);
      expect(saved.status).toBe(201);
      expect((await call(pipelineUrl(server.url, 'main', PIPELINE, '/unpause'), token, 'PUT')).status).toBe(
        200,
      );

      const card = page.locator('.pipeline-card', { hasText: PIPELINE });
      await card.waitFor({ timeout: 30_000 });
      await card.locator('.job-preview-box[title^="hello:"].status-succeeded').waitFor({ timeout: 90_000 });
      expect(navigations).toBe(before); // the dashboard polled its way there
      await expect(card.locator('.job-preview-box[title^="slow:"]').getAttribute('class')).resolves.toContain(
        'status-pending',
      );
      // The succeeded colour is the one painted, not just the class.
      const colour = await page.evaluate(
        `getComputedStyle(document.querySelector('.pipeline-card .job-preview-box[title^="hello:"]')).backgroundColor`,
      );
      const pendingColour = await page.evaluate(
        `getComputedStyle(document.querySelector('.pipeline-card .job-preview-box[title^="slow:"]')).backgroundColor`,
      );
      expect(colour).toMatch(/^rgb/);
      expect(colour).not.toBe('rgba(0, 0, 0, 0)');
      expect(colour).not.toBe(pendingColour);
      await screenshot('dashboard');
      await screenshot('dashboard', 390);
      await atDesktop();
    });

    it('opens the pipeline graph, the job and its build with the coloured log', async () => {
      await page.locator('.pipeline-card .card-title', { hasText: PIPELINE }).click();
      await page.getByTestId('pipeline-graph').waitFor();
      await page.locator('.graph-job.status-succeeded[data-job="hello"]').waitFor();
      await page.locator('.graph-job[data-job="slow"]').waitFor();
      await screenshot('pipeline');
      await screenshot('pipeline', 390);
      await atDesktop();

      await page.locator('.graph-job[data-job="hello"]').click();
      await page.waitForURL(/\/jobs\/hello$/);
      await page.locator('.job-build-row').first().waitFor();
      // Its inputs come from the build's resources, fetched after the row.
      await page.locator('.job-build-row .job-build-resources', { hasText: 'version: v1' }).first().waitFor();
      await screenshot('job');

      await page.locator('.job-build-row .build-link').first().click();
      await page.waitForURL(/\/jobs\/hello\/builds\/1$/);
      await page.locator('.build-header[data-status="succeeded"]').waitFor();
      await page.locator('.ansi-green-fg', { hasText: 'green from the pipeline' }).waitFor();
      await page.locator('.ansi-red-fg.ansi-bold', { hasText: 'bold red' }).waitFor();
      await page.locator('.ansi-blue-fg', { hasText: 'blue for v1' }).waitFor();
      await page.locator('.log-line', { hasText: 'done greeting' }).waitFor();
      await page.locator('.step-header', { hasText: 'greet' }).waitFor();
      await page.locator('.step-header', { hasText: 'source' }).waitFor();
      await screenshot('build');
      await screenshot('build', 390);
      await atDesktop();
    });

    it('pins a version with a comment from the resource page', async () => {
      await page.goto(`${server.url}/teams/main/pipelines/${PIPELINE}/resources/source`);
      const row = page.locator('.version-row', { hasText: 'v1' });
      await row.waitFor();
      await row.getByRole('button', { name: 'pin', exact: true }).click();
      await page.locator('.version-row.pinned', { hasText: 'v1' }).waitFor();
      await page.locator('.pinned-panel').waitFor();
      await page.getByLabel('pin comment').fill('holding v1 for the release');
      await page.getByRole('button', { name: 'save comment' }).click();
      // Disabled while saving and once saved: the API is what says it is done.
      await page.locator('.pin-comment button:disabled', { hasText: 'save comment' }).waitFor();
      let resource: { pinned_version?: Record<string, string>; pin_comment?: string } = {};
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; await page.waitForTimeout(200)) {
        resource = (await call(pipelineUrl(server.url, 'main', PIPELINE, '/resources/source'), token)).json();
        if (resource.pin_comment === 'holding v1 for the release') break;
      }
      expect(resource.pinned_version).toEqual({ version: 'v1' });
      expect(resource.pin_comment).toBe('holding v1 for the release');
      await screenshot('resource');
      await screenshot('resource', 390);
      await atDesktop();
    });

    it('streams a running job build and aborts it from its page', async () => {
      const triggered = await call(
        pipelineUrl(server.url, 'main', PIPELINE, '/jobs/slow/builds'),
        token,
        'POST',
      );
      expect(triggered.status).toBe(200);
      const build = triggered.json<{ id: number; name: string }>();
      await page.goto(`${server.url}/teams/main/pipelines/${PIPELINE}/jobs/slow/builds/${build.name}`);
      await page.locator('.log-line', { hasText: 'tick 3' }).waitFor({ timeout: 60_000 });
      await page.locator('.build-header[data-status="started"]').waitFor();
      await screenshot('build-running');
      const abort = page.waitForResponse((res) => res.url().endsWith(`/api/v1/builds/${build.id}/abort`));
      await page.locator('.abort-button').click();
      expect((await abort).status()).toBe(204);
      await page.locator('.build-header[data-status="aborted"]').waitFor({ timeout: 30_000 });
      const after = (await call(`${server.url}/api/v1/builds/${build.id}`, token)).json<{ status: string }>();
      expect(after.status).toBe('aborted');
      await screenshot('build-aborted');
    });
  },
);
