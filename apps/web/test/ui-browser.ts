// What the browser tests share: Debian's Chromium (skip cleanly without it), a launched headless browser,
// and screenshots at a given width.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe } from '@jest/globals';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_UI_DIST_DIR } from '../src/ui/serve-ui.js';

export const CHROMIUM = '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);

/** `describe` when Chromium is installed, otherwise `describe.skip` with a message saying how to get it. */
export function describeInBrowser(what: string): typeof describe | typeof describe.skip {
  if (HAVE_CHROMIUM) return describe;
  console.warn(`skipping ${what}: ${CHROMIUM} not found (install it with: apt-get install chromium)`);
  return describe.skip;
}

export function assertUiBuilt(): void {
  if (!existsSync(path.join(DEFAULT_UI_DIST_DIR, 'index.html'))) {
    throw new Error(`the UI is not built (${DEFAULT_UI_DIST_DIR}): run \`npx -y pnpm@10 build\` first`);
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh temp dir for screenshots. */
export function tempShotsDir(): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'jetbridge-ui-screenshots-'));
}

/** `$JETBRIDGE_TEST_ARTIFACTS/<sub>` or `<repo>/.test-artifacts/<sub>` (gitignored), created. */
export async function artifactsDir(sub: string): Promise<string> {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const base = process.env['JETBRIDGE_TEST_ARTIFACTS'] || path.join(repo, '.test-artifacts');
  const dir = path.join(base, sub);
  await mkdir(dir, { recursive: true });
  return dir;
}

/** Screenshot `page` at `width` into `dir` as `<name>-<width>.png`. */
export async function screenshotAt(page: Page, dir: string, name: string, width: number): Promise<string> {
  await page.setViewportSize({ width, height: width < 600 ? 844 : 800 });
  await page.waitForTimeout(200);
  const file = path.join(dir, `${name}-${width}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Log in through the UI: the login link, the server's form, back with the CSRF token kept. */
export async function loginThroughUi(
  page: Page,
  url: string,
  user: { username: string; password: string },
): Promise<void> {
  await page.goto(`${url}/`);
  await page.locator('.login-link').click();
  await page.waitForURL(/\/sky\/login/);
  await page.fill('input[name=username]', user.username);
  await page.fill('input[name=password]', user.password);
  await page.click('button[type=submit]');
  await page.locator('.user-button', { hasText: user.username }).waitFor();
}
