// Running the real `fly` CLI against a test server. The binary is not part of the repository: tests look for
// it at $FLY_BIN or /tmp/flybin/fly and are skipped (saying so) when it is absent. Each FlyCli has its own
// HOME, so its `.flyrc` never touches the user's.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export const FLY_BIN = process.env['FLY_BIN'] ?? '/tmp/flybin/fly';

/** Whether a fly binary is there to run; tests use `describe.skip` with {@link FLY_SKIP_REASON} otherwise. */
export const flyAvailable = existsSync(FLY_BIN);
export const FLY_SKIP_REASON = `fly not found at ${FLY_BIN} (set FLY_BIN to a fly 8.2.x binary to run these tests)`;

export interface FlyResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class FlyCli {
  private constructor(
    readonly home: string,
    readonly target: string,
  ) {}

  /** A fly with a fresh HOME, logged in to `url` as `user` under target `t`. */
  static async login(
    url: string,
    user: { username: string; password: string },
    team = 'main',
  ): Promise<FlyCli> {
    const home = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-fly-'));
    const fly = new FlyCli(home, 't');
    const result = await fly.run(['login', '-c', url, '-u', user.username, '-p', user.password, '-n', team]);
    if (result.code !== 0)
      throw new Error(`fly login failed (${result.code}): ${result.stdout}${result.stderr}`);
    return fly;
  }

  /** `fly -t <target> <args>`, with stdin closed (so prompts fail instead of hanging). */
  run(args: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<FlyResult> {
    return new Promise((resolve) => {
      const child = execFile(
        FLY_BIN,
        ['-t', this.target, ...args],
        {
          cwd: options.cwd ?? this.home,
          env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: this.home },
          timeout: options.timeoutMs ?? 60_000,
        },
        (error, stdout, stderr) => {
          const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
          resolve({ code, stdout: String(stdout), stderr: String(stderr) });
        },
      );
      child.stdin?.end();
    });
  }

  async dispose(): Promise<void> {
    await rm(this.home, { recursive: true, force: true });
  }
}
