import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import {
  migrateToLatest,
  startEmbeddedPostgres,
  waitForDatabase,
  type EmbeddedPostgres,
  type PostgresConnection,
} from '@jetbridge/db';
import type { ArtifactReaper } from '@jetbridge/artifact-store';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { apiAreas } from './api/index.js';
import { buildApp } from './app.js';
import { usePipelineBuilds } from './checking/checker-plugin.js';
import type { AppContext } from './app-context.js';
import { startArtifactReaper } from './artifacts/artifact-collection.js';
import { bootstrapMainTeam, resolveLocalUsers, type BootstrappedUsers } from './auth/bootstrap.js';
import { resumedBuildRun } from './builds/build-resumption.js';
import { embeddedPostgresMaxConnections, openDatabasePools } from './database-pools.js';
import { ArchivedPipelineCollector } from './gc/archived-pipeline-collector.js';
import { closeHttpServer, trackHttpConnections } from './http-shutdown.js';
import type { WebConfig } from './config/index.js';
import { stdoutLogDestination } from './observability/log-destination.js';
import { createMetricsRegistry } from './observability/metrics.js';
import { startPrometheusListener } from './observability/prometheus-listener.js';
import { useJobScheduling } from './scheduling/job-scheduling-plugin.js';
import { openWebRuntime, type WebRuntime } from './runtime/select-worker.js';
import { JETBRIDGE_VERSION } from './version.js';

export interface RunningJetBridge {
  /** The URL the server listens on (external URL for humans, this one for tests). */
  url: string;
  /** Where Prometheus scrapes when --prometheus-bind-port is set (else `<url>/metrics`). */
  metricsUrl?: string;
  app: FastifyInstance;
  ctx: AppContext;
  users: BootstrappedUsers;
  /** The worker and its artifact store; with `--runtime kubernetes`, its recovery and pod reaper too. */
  runtime: WebRuntime;
  /** Deletes volumes nobody needs anymore every `--gc-interval`; `reapOnce()` runs a pass now. */
  artifactReaper: ArtifactReaper;
  /** Graceful shutdown: stop accepting, finish requests, stop steps, close the database. Idempotent. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** Where JSON logs go (default: stdout). */
  logDestination?: NodeJS.WritableStream;
}

/** Secrets and credentials never reach the logs. */
const REDACTED_LOG_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  'password',
  '*.password',
];

export function createLogger(config: WebConfig, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level: config.logLevel,
      base: { service: 'jetbridge-web', node: os.hostname() },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACTED_LOG_PATHS, censor: '[redacted]' },
    },
    // By default stdout, where a full disk or a closed reader drops log lines rather than stopping the node.
    destination ?? stdoutLogDestination(),
  );
}

/** A shutdown step taking this long is logged as a warning, naming it. */
const SLOW_SHUTDOWN_STEP_MS = 5_000;

/**
 * Start a JetBridge web node: database (embedded or external), migrations, runtime (local processes, or pods
 * with `--runtime kubernetes`), HTTP.
 */
export async function startJetBridge(
  config: WebConfig,
  options: StartOptions = {},
): Promise<RunningJetBridge> {
  const logger = createLogger(config, options.logDestination);
  await mkdir(config.dataDir, { recursive: true });

  // Shutdown steps, run in reverse order. Each is named so that a slow one says which it is.
  const cleanups: Array<[name: string, stop: () => Promise<void>]> = [];
  const cleanup = async () => {
    for (const [name, stop] of cleanups.reverse()) {
      const began = performance.now();
      await stop().catch((err: unknown) => logger.error({ err, step: name }, 'error during shutdown'));
      const ms = Math.round(performance.now() - began);
      if (ms >= SLOW_SHUTDOWN_STEP_MS) logger.warn({ step: name, ms }, 'slow shutdown step');
      else logger.debug({ step: name, ms }, 'shutdown step done');
    }
    cleanups.length = 0;
  };

  try {
    for (const message of config.deprecations ?? []) logger.warn(message);
    let connection: PostgresConnection;
    if (config.postgres) {
      connection = config.postgres;
      logger.info(
        { host: connection.host, port: connection.port, database: connection.database },
        'using external PostgreSQL',
      );
    } else {
      const pgLog = logger.child({ component: 'embedded-postgres' });
      const embedded: EmbeddedPostgres = await startEmbeddedPostgres({
        dataDir: config.dataDir,
        // Room for both pools, full, and the connections beside them.
        maxConnections: embeddedPostgresMaxConnections(config),
        onLog: (message) => pgLog.debug(message),
      });
      cleanups.push(['embedded PostgreSQL', () => embedded.stop()]);
      connection = embedded.connection;
      logger.info({ dataDir: config.dataDir, port: connection.port }, 'started embedded PostgreSQL');
    }

    // Concourse's two pools: the API's (--api-max-conns) and everything else's (--backend-max-conns).
    // The error only: pg-pool hangs the whole client object (its connection parameters, cancel key) on it.
    const pools = openDatabasePools(connection, config, (pool, err) =>
      logger.warn(
        { pool, error: err.message, code: (err as { code?: unknown }).code },
        'idle database connection lost',
      ),
    );
    cleanups.push(['database pools', () => pools.close()]);
    const backend = pools.backend;
    logger.info(
      { apiMaxConns: config.apiMaxConnections, backendMaxConns: config.backendMaxConnections },
      'database pools',
    );
    await waitForDatabase(backend.pool);
    const applied = await migrateToLatest(backend.db);
    if (applied.length > 0)
      logger.info({ migrations: applied.map((m) => m.migrationName) }, 'applied migrations');

    const users = await resolveLocalUsers(config);
    await bootstrapMainTeam(backend.db, config, users.localUsers);

    const metrics = createMetricsRegistry({ api: pools.api.pool, backend: backend.pool });
    // The worker (local processes or pods) and the artifact store it shares with uploads and the reaper.
    const runtime = await openWebRuntime(config, { db: backend.db, pool: backend.pool, logger, metrics });
    cleanups.push(['runtime', () => runtime.afterAppClose()]);
    const { worker, artifactStore } = runtime;

    const ctx: AppContext = {
      config,
      db: pools.api.db,
      pool: pools.api.pool,
      backendDb: backend.db,
      backendPool: backend.pool,
      logger,
      metrics,
      worker,
      nodeName: os.hostname(),
      // Another replica's builds left running in pods are collected here, not ended blind.
      ...(runtime.kubernetes
        ? {
            takeOverOrphan: (build, releaseLock) => runtime.kubernetes!.recovery.takeOver(build, releaseLock),
          }
        : {}),
    };
    const app = await buildApp(ctx, apiAreas);
    trackHttpConnections(app);
    cleanups.push(['HTTP server and its plugins', () => closeHttpServer(app)]);
    // Runs before app.close (cleanups run in reverse): pods are let go of before builds stop.
    cleanups.push(['runtime (before the HTTP server)', () => runtime.beforeAppClose()]);
    runtime.attachApp(app);
    // Resource checking and job builds: they run through the build tracker, next to the API.
    await usePipelineBuilds(app, ctx);
    // Builds a killed node left running go on here once their running steps are collected (job builds need
    // the job build starter usePipelineBuilds made).
    if (runtime.kubernetes) {
      const tracker = app.buildTracker;
      runtime.kubernetes.recovery.useResumer(async (build, releaseLock) => {
        // Recovery is backend work: what the build runs with is read through the backend pool.
        const run = await resumedBuildRun({ ...ctx, db: ctx.backendDb, pool: ctx.backendPool }, build);
        if (run === undefined) return 'cannot';
        const outcome = await tracker.resumeBuild(build, run, releaseLock);
        // Not started (closing, or no plan): what the run holds (a check's config lock) is let go now.
        if (outcome !== 'resumed') run.abandon?.();
        return outcome;
      });
    }
    // Job scheduling; stopped before the app closes (cleanups run in reverse), so nothing starts meanwhile.
    const scheduler = await useJobScheduling(app, ctx, {
      ...(ctx.jobBuildStarter ? { starter: ctx.jobBuildStarter } : {}),
      ...(ctx.checker ? { inputChecker: ctx.checker } : {}),
      intervalMs: config.componentRunnerIntervalMs,
    });
    ctx.jobScheduling = scheduler;
    cleanups.push(['job scheduler', () => scheduler.stop()]);
    await app.listen({ host: config.bindIp, port: config.bindPort });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : config.bindPort;
    const url = `http://${config.bindIp === '0.0.0.0' ? '127.0.0.1' : config.bindIp}:${port}`;
    logger.info(
      { url, externalUrl: config.externalUrl, version: JETBRIDGE_VERSION },
      'JetBridge web is listening',
    );
    const prometheus = config.prometheus
      ? await startPrometheusListener(metrics, config.prometheus, (err) =>
          logger.warn({ err }, 'collecting metrics failed'),
        )
      : undefined;
    if (prometheus) {
      cleanups.push(['Prometheus listener', () => prometheus.close()]);
      logger.info({ url: `${prometheus.url}/metrics` }, 'Prometheus metrics are served on their own port');
    }
    // Stopped first on shutdown (cleanups run in reverse), before builds stop and the database closes.
    const artifactReaper = startArtifactReaper(artifactStore, {
      intervalMs: config.gcIntervalMs,
      logger: logger.child({ component: 'gc' }),
    });
    cleanups.push(['artifact reaper', () => artifactReaper.stop()]);
    const archivedPipelines = new ArchivedPipelineCollector({
      db: backend.db,
      logger: logger.child({ component: 'gc' }),
      intervalMs: config.gcIntervalMs,
      destroyAfterMs: config.destroyArchivedPipelinesAfterMs,
    });
    archivedPipelines.start();
    cleanups.push(['archived pipeline collector', () => archivedPipelines.stop()]);

    let closing: Promise<void> | undefined;
    return {
      url,
      ...(prometheus ? { metricsUrl: `${prometheus.url}/metrics` } : {}),
      app,
      ctx,
      users,
      runtime,
      artifactReaper,
      close: () => (closing ??= cleanup().then(() => logger.info('JetBridge web stopped'))),
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
