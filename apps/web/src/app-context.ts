import type { BuildRecord, Database, Kysely } from '@jetbridge/db';
import type { Worker } from '@jetbridge/runtime';
import type pg from 'pg';
import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { WebConfig } from './config/index.js';

/**
 * Everything the HTTP layer is given by the server that hosts it. Built once by `startJetBridge`, passed to
 * every API plugin; tests build the same thing around a real database.
 */
export interface AppContext {
  config: WebConfig;
  /**
   * The API pool (`--api-max-conns`): for route handlers and auth — whatever answers an HTTP request. Work
   * that goes on by itself (builds, checks, scheduling, GC) uses `backendDb`, so it cannot starve the API.
   */
  db: Kysely<Database>;
  /** The pool behind `db`, for health checks and the auth listener's connection settings. */
  pool: pg.Pool;
  /** The backend pool (`--backend-max-conns`): build tracking, checkers, the scheduler, GC, recovery. */
  backendDb: Kysely<Database>;
  /** The pool behind `backendDb`, for the session advisory locks of builds and checks. */
  backendPool: pg.Pool;
  logger: FastifyBaseLogger;
  metrics: Registry;
  worker: Worker;
  /** Name of this web node, recorded on the builds it runs. */
  nodeName: string;
  /**
   * With a runtime whose steps outlive their web node (pods): collects the steps of a build whose node died
   * instead of the build tracker ending it at once (see BuildTrackerOptions.takeOverOrphan).
   */
  takeOverOrphan?(build: BuildRecord, releaseLock: () => Promise<void>): Promise<boolean>;
}
