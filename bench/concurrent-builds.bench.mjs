// Memory of the web node under load: BUILDS one-off builds started at once, each a task printing a line every
// 50 ms for about five seconds plus a burst of 2,000 lines, each followed by a watcher on its SSE stream (as
// `fly execute` does). The server's resident set size is sampled every 100 ms from before the first build
// until every build has finished; the figure is the peak (the embedded PostgreSQL and the tasks' processes
// are separate processes and not counted). Every build must succeed and every watcher see all its lines.
// `BENCH_BUILDS` and `BENCH_BUILD_RUNS` override the sizes.
import { performance } from 'node:perf_hooks';
import {
  api,
  figure,
  loadAverage,
  median,
  progress,
  startJetBridge,
  streamBuildEvents,
  taskPlan,
} from './lib/jetbridge.mjs';

const BUILDS = Number(process.env.BENCH_BUILDS ?? 50);
const RUNS = Number(process.env.BENCH_BUILD_RUNS ?? 2);
const TICKS = 100;
const BURST = 2_000;
const TARGET_MB = 512;
const SCRIPT =
  `i=0; while [ $i -lt ${TICKS} ]; do echo "tick $i"; i=$((i+1)); sleep 0.05; done; ` +
  `awk 'BEGIN { for (i = 0; i < ${BURST}; i++) print "burst line " i }'`;
const EXPECTED_LINES = TICKS + BURST;

async function runBuild(server) {
  const build = await api(server, 'POST', '/api/v1/teams/main/builds', taskPlan('sh', ['-c', SCRIPT]));
  let lines = 0;
  const status = await streamBuildEvents(server, build.id, (event) => {
    if (event.event === 'log') lines += event.data.payload.split('\n').length - 1;
  });
  if (status !== 'succeeded') throw new Error(`build ${build.id} ${status}`);
  if (lines !== EXPECTED_LINES) throw new Error(`build ${build.id}: ${lines} lines, not ${EXPECTED_LINES}`);
}

/** Peak RSS while `work` runs, sampled every 100 ms. */
async function peakRss(server, work) {
  let peak = await server.rssBytes();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await server.rssBytes());
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  try {
    await work();
  } finally {
    sampling = false;
    await sampler;
  }
  return Math.max(peak, await server.rssBytes());
}

const megabytes = (bytes) => bytes / (1024 * 1024);

const server = await startJetBridge();
try {
  await runBuild(server); // warm-up: code paths loaded, pools opened
  const idle = await server.rssBytes();
  progress(`server RSS before the builds: ${megabytes(idle).toFixed(0)} MB; load average ${loadAverage()}`);
  const peaks = [];
  const durations = [];
  for (let run = 0; run < RUNS; run++) {
    const started = performance.now();
    const peak = await peakRss(server, () =>
      Promise.all(Array.from({ length: BUILDS }, () => runBuild(server))),
    );
    durations.push(performance.now() - started);
    peaks.push(peak);
    progress(
      `run ${run + 1}: ${BUILDS} builds in ${(durations.at(-1) / 1000).toFixed(1)} s, peak RSS ${megabytes(peak).toFixed(0)} MB`,
    );
  }
  progress(`load average ${loadAverage()}`);
  const peak = megabytes(median(peaks));
  figure(
    `server RSS during ${BUILDS} concurrent builds, peak (median of ${RUNS})`,
    `${peak.toFixed(0)} MB`,
    `< ${TARGET_MB} MB`,
    peak < TARGET_MB,
  );
  figure(
    `  ${BUILDS} concurrent ~5 s builds, wall time`,
    `${(median(durations) / 1000).toFixed(1)} s`,
    '(context)',
  );
} finally {
  await server.stop();
}
