// Containers (concourse-api.md §1.8, §2.12, §6.12; Concourse's atc/api/containerserver): listing a team's
// step containers with fly's filters, looking one up, and hijacking one over a WebSocket (`fly hijack`,
// `fly intercept`): a new process in the container, its stdio carried as base64 JSON messages.
import { PassThrough, Writable } from 'node:stream';
import fastifyWebsocket from '@fastify/websocket';
import { findTeamByName } from '@jetbridge/db';
import { ExecutableNotFoundError, type ContainerInfo, type Process } from '@jetbridge/runtime';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WebSocket } from 'ws';
import type { AppContext } from '../app-context.js';
import { useBuildTracker } from '../builds/build-tracker-plugin.js';
import { HttpError } from '../http-error.js';

/** `atc.Container`: everything but `id` and `worker_name` is omitempty. */
export function presentContainer(container: ContainerInfo): Record<string, unknown> {
  const m = container.metadata;
  const json: Record<string, unknown> = { id: container.handle, worker_name: container.workerName };
  const optional: Array<[string, unknown]> = [
    ['state', container.state],
    ['type', m.type],
    ['step_name', m.stepName],
    ['attempt', m.attempt],
    ['pipeline_id', m.pipelineId],
    ['job_id', m.jobId],
    ['build_id', m.buildId],
    ['pipeline_name', m.pipelineName],
    [
      'pipeline_instance_vars',
      m.pipelineInstanceVars && Object.keys(m.pipelineInstanceVars).length > 0
        ? m.pipelineInstanceVars
        : undefined,
    ],
    ['job_name', m.jobName],
    ['build_name', m.buildName],
    ['resource_name', m.resourceName],
    ['user', m.user],
    ['working_directory', m.workingDirectory],
  ];
  for (const [key, value] of optional) {
    if (value !== undefined && value !== '' && value !== 0) json[key] = value;
  }
  return json;
}

const CONTAINER_TYPES = ['check', 'get', 'put', 'task', 'run'] as const;

type Query = Record<string, string | string[] | undefined>;

function first(query: Query, key: string): string {
  const value = query[key];
  return (Array.isArray(value) ? value[0] : value) ?? '';
}

/** Go's `strconv.Atoi` on an optional query parameter; the error text is Concourse's. */
function intParam(query: Query, key: string): number | undefined {
  const text = first(query, key);
  if (text === '') return undefined;
  if (!/^[+-]?\d+$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw new HttpError(
      400,
      `non-numeric '${key}' param (${text}): strconv.Atoi: parsing ${JSON.stringify(text)}: invalid syntax`,
    );
  }
  return Number(text);
}

/**
 * Pipeline instance vars from `vars=<JSON object>` and `vars.<path>=<JSON value>` (concourse-api.md §0.1);
 * undefined when neither is given. Malformed JSON → 400.
 */
export function instanceVarsFromQuery(query: Query): Record<string, unknown> | undefined {
  const keys = Object.keys(query)
    .filter((key) => key === 'vars' || key.startsWith('vars.'))
    .sort();
  if (keys.length === 0) return undefined;
  let vars: Record<string, unknown> = {};
  for (const key of keys) {
    let value: unknown;
    try {
      value = JSON.parse(first(query, key));
    } catch {
      throw new HttpError(400, `invalid value for ${key}`);
    }
    if (key === 'vars') {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        throw new HttpError(400, 'vars must be an object');
      vars = { ...vars, ...(value as Record<string, unknown>) };
      continue;
    }
    const path = key.slice('vars.'.length).split('.');
    if (path.some((segment) => segment === '')) throw new HttpError(400, `invalid instance var ${key}`);
    let node = vars;
    for (const segment of path.slice(0, -1)) {
      const next = node[segment];
      node = node[segment] =
        typeof next === 'object' && next !== null && !Array.isArray(next)
          ? { ...(next as Record<string, unknown>) }
          : {};
    }
    node[path[path.length - 1] as string] = value;
  }
  return vars;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.keys(value)
      .sort()
      .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
  );
}

/**
 * The filter `GET …/containers?…` describes, as Concourse's container locators: no parameters → all of the
 * team's; `type=check` → check containers by resource and pipeline; otherwise every given step field must
 * match (empty and zero values match anything).
 */
export function containerFilter(query: Query): (container: ContainerInfo) => boolean {
  if (Object.keys(query).length === 0) return () => true;
  const instanceVars = instanceVarsFromQuery(query);
  const pipelineName = first(query, 'pipeline_name');
  const type = first(query, 'type');
  const matchesPipeline = (c: ContainerInfo) =>
    (pipelineName === '' || c.metadata.pipelineName === pipelineName) &&
    (instanceVars === undefined || sameJson(c.metadata.pipelineInstanceVars ?? {}, instanceVars));

  if (type === 'check') {
    const resourceName = first(query, 'resource_name');
    return (c) =>
      c.metadata.type === 'check' &&
      (resourceName === '' || c.metadata.resourceName === resourceName) &&
      matchesPipeline(c);
  }
  if (type !== '' && !(CONTAINER_TYPES as readonly string[]).includes(type)) {
    throw new HttpError(400, `unrecognized containerType: ${type}`);
  }
  const pipelineId = intParam(query, 'pipeline_id');
  const jobId = intParam(query, 'job_id');
  const buildId = intParam(query, 'build_id');
  const wanted: Array<[keyof ContainerInfo['metadata'], string | number | undefined]> = [
    ['type', type],
    ['stepName', first(query, 'step_name')],
    ['attempt', first(query, 'attempt')],
    ['pipelineId', pipelineId],
    ['jobId', jobId],
    ['buildId', buildId],
    ['jobName', first(query, 'job_name')],
    ['buildName', first(query, 'build_name')],
  ];
  return (c) =>
    matchesPipeline(c) &&
    wanted.every(
      ([key, value]) => value === undefined || value === '' || value === 0 || c.metadata[key] === value,
    );
}

async function requireTeam(ctx: AppContext, teamName: string): Promise<void> {
  if ((await findTeamByName(ctx.db, teamName)) === undefined) throw HttpError.notFound();
}

/** The team's container with this handle, or 404; a check container only for admins (403). */
async function teamContainer(
  ctx: AppContext,
  request: FastifyRequest,
  teamName: string,
  handle: string,
): Promise<ContainerInfo> {
  const container = (await ctx.worker.listContainers()).find((c) => c.handle === handle);
  if (container === undefined || container.metadata.teamName !== teamName) throw HttpError.notFound();
  if (container.metadata.type === 'check' && !request.accessor.isAdmin) throw HttpError.forbidden();
  return container;
}

/** `atc.HijackProcessSpec`, validated. */
interface HijackProcessSpec {
  path: string;
  args: string[];
  env: Record<string, string>;
  dir?: string;
  user?: string;
  tty?: { rows: number; columns: number };
}

export function parseHijackProcessSpec(text: string): HijackProcessSpec | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const spec = raw as Record<string, unknown>;
  const optionalString = (value: unknown) =>
    value === undefined || value === null || typeof value === 'string';
  const stringList = (value: unknown) =>
    value === undefined ||
    value === null ||
    (Array.isArray(value) && value.every((item) => typeof item === 'string'));
  if (!optionalString(spec['path']) || !optionalString(spec['dir']) || !optionalString(spec['user']))
    return undefined;
  if (!stringList(spec['args']) || !stringList(spec['env'])) return undefined;
  const env: Record<string, string> = {};
  for (const entry of (spec['env'] as string[] | null | undefined) ?? []) {
    const eq = entry.indexOf('=');
    if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  const tty = windowSize(spec['tty']);
  if (tty === null) return undefined;
  return {
    path: (spec['path'] as string | undefined) ?? '',
    args: (spec['args'] as string[] | null | undefined) ?? [],
    env,
    ...(typeof spec['dir'] === 'string' && spec['dir'] !== '' ? { dir: spec['dir'] } : {}),
    ...(typeof spec['user'] === 'string' && spec['user'] !== '' ? { user: spec['user'] } : {}),
    ...(tty ? { tty } : {}),
  };
}

/** `{"window_size":{"columns":C,"rows":R}}` → size; undefined when absent, null when malformed. */
function windowSize(value: unknown): { rows: number; columns: number } | undefined | null {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object') return null;
  const size = (value as { window_size?: unknown }).window_size;
  if (size === undefined || size === null) return { rows: 0, columns: 0 };
  if (typeof size !== 'object') return null;
  const { rows, columns } = size as { rows?: unknown; columns?: unknown };
  if (
    (rows !== undefined && typeof rows !== 'number') ||
    (columns !== undefined && typeof columns !== 'number')
  )
    return null;
  return { rows: rows ?? 0, columns: columns ?? 0 };
}

/** Output chunks as `{"stdout":"<base64>"}` messages; a write completes when the socket took it. */
function outputToSocket(socket: WebSocket, key: 'stdout' | 'stderr'): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (socket.readyState !== socket.OPEN) {
        callback();
        return;
      }
      socket.send(JSON.stringify({ [key]: chunk.toString('base64') }), () => callback());
    },
  });
}

export async function containerRoutes(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const tracker = await useBuildTracker(app, ctx);
  if (!app.hasDecorator('websocketServer')) await app.register(fastifyWebsocket);

  app.get<{ Params: { team_name: string }; Querystring: Query }>(
    '/api/v1/teams/:team_name/containers',
    { config: { access: { kind: 'team', role: 'viewer' } } },
    async (request) => {
      const matches = containerFilter(request.query);
      await requireTeam(ctx, request.params.team_name);
      const containers = await ctx.worker.listContainers();
      return containers
        .filter((c) => c.metadata.teamName === request.params.team_name && matches(c))
        .map(presentContainer);
    },
  );

  app.get<{ Params: { team_name: string; id: string } }>(
    '/api/v1/teams/:team_name/containers/:id',
    { config: { access: { kind: 'team', role: 'viewer' } } },
    async (request) =>
      presentContainer(await teamContainer(ctx, request, request.params.team_name, request.params.id)),
  );

  app.get<{ Params: { team_name: string; id: string } }>(
    '/api/v1/teams/:team_name/containers/:id/hijack',
    {
      websocket: true,
      config: { access: { kind: 'team', role: 'member' } },
      // Before the upgrade, so an unknown container is a plain 404 as fly expects.
      preValidation: async (request) => {
        await teamContainer(ctx, request, request.params.team_name, request.params.id);
      },
      // An upgrade refused before the WebSocket plugin saw it (401 from the auth hook, 404 above) leaves a
      // bare socket nobody closes; close it once the refusal is sent.
      onResponse: async (request, reply) => {
        if (request.headers.upgrade !== undefined && reply.statusCode !== 101) request.raw.socket?.destroy();
      },
    },
    (socket, request) => {
      const handle = request.params.id;
      const log = request.log.child({ container: handle });
      const sendAndClose = (message: Record<string, unknown>) => {
        if (socket.readyState !== socket.OPEN) return;
        socket.send(JSON.stringify(message), () => socket.close(1000));
      };

      // Input that arrives while the process is starting is kept: stdin in the pipe, a resize for later.
      const stdin = new PassThrough();
      let process: Process | undefined;
      let pendingResize: { rows: number; columns: number } | undefined;
      let exited = false;
      let spec: HijackProcessSpec | undefined;

      socket.on('message', (data) => {
        if (spec === undefined) {
          spec = parseHijackProcessSpec(data.toString());
          if (spec === undefined) {
            log.info('malformed hijack process spec');
            socket.close(1003, 'malformed process spec');
            return;
          }
          void hijack(spec).catch((err: unknown) => {
            log.error({ err }, 'hijack failed');
            sendAndClose({ error: err instanceof Error ? err.message : String(err) });
          });
          return;
        }
        let input: { stdin?: unknown; tty?: unknown; closed?: unknown };
        try {
          input = JSON.parse(data.toString()) as typeof input;
        } catch {
          return;
        }
        tracker.containers.touch(handle);
        if (input.closed === true) {
          stdin.end();
        } else if (input.tty !== undefined && input.tty !== null) {
          const size = windowSize(input.tty);
          if (!size) return;
          if (process === undefined) pendingResize = size;
          else
            void process
              .resize(size)
              .catch((err: unknown) => socket.send(JSON.stringify({ error: String(err) })));
        } else if (typeof input.stdin === 'string' && !stdin.writableEnded) {
          stdin.write(Buffer.from(input.stdin, 'base64'));
        }
      });
      // The client went away: stop what it started rather than leave it running unattended.
      socket.on('close', () => {
        stdin.end();
        if (process !== undefined && !exited) void process.signal('kill').catch(() => undefined);
      });

      const hijack = async (processSpec: HijackProcessSpec) => {
        const container = await ctx.worker.lookupContainer(handle);
        if (container === undefined) {
          sendAndClose({ error: `container ${handle} is gone` });
          return;
        }
        const stdout = outputToSocket(socket, 'stdout');
        const stderr = outputToSocket(socket, 'stderr');
        try {
          process = await container.run(
            {
              path: processSpec.path || 'bash',
              args: processSpec.args,
              env: processSpec.env,
              dir: processSpec.dir,
              user: processSpec.user,
              tty: processSpec.tty,
            },
            { stdin, stdout, stderr },
          );
        } catch (err) {
          if (err instanceof ExecutableNotFoundError) {
            // fly retries with `sh` when it defaulted to `bash`.
            socket.send(JSON.stringify({ executable_not_found: true }));
          }
          sendAndClose({ error: err instanceof Error ? err.message : String(err) });
          return;
        }
        log.info({ path: processSpec.path, args: processSpec.args }, 'hijacked');
        tracker.containers.touch(handle);
        if (socket.readyState !== socket.OPEN) void process.signal('kill').catch(() => undefined);
        if (pendingResize) await process.resize(pendingResize).catch(() => undefined);

        const status = await process.wait();
        exited = true;
        tracker.containers.touch(handle);
        // Every output message goes out before the exit status.
        await Promise.all([stdout, stderr].map((output) => new Promise((resolve) => output.end(resolve))));
        sendAndClose({ exit_status: status });
      };
    },
  );
}
