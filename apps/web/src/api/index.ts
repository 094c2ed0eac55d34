import type { ApiArea } from '../app.js';
import { artifactRoutes } from './artifacts.js';
import { buildPreparationRoutes } from './build-preparation.js';
import { buildRoutes } from './builds.js';
import { containerRoutes } from './containers.js';
import { eventRoutes } from './events.js';
import { jobRoutes } from './jobs.js';
import { pipelineRoutes } from './pipelines.js';
import { resourceRoutes } from './resources.js';
import { skyIssuerRoutes } from './sky-issuer.js';
import { skyLoginRoutes } from './sky-login.js';
import { teamRoutes } from './teams.js';
import { userRoutes } from './users.js';
import { volumeRoutes } from './volumes.js';
import { workerRoutes } from './workers.js';

/**
 * The API areas a running server serves, one module per area as Concourse's `atc/api/<area>server`.
 * (info and health are part of every app; see app.ts.)
 */
export const apiAreas: ApiArea[] = [
  skyIssuerRoutes,
  skyLoginRoutes,
  userRoutes,
  teamRoutes,
  buildRoutes,
  buildPreparationRoutes,
  eventRoutes,
  artifactRoutes,
  containerRoutes,
  workerRoutes,
  volumeRoutes,
  pipelineRoutes,
  jobRoutes,
  resourceRoutes,
];
