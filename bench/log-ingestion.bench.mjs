// Build log ingestion through a real JetBridge: a one-off task prints LINES lines as fast as it can, while
// WATCHERS clients follow the build's SSE stream (`GET /builds/:id/events`, as `fly watch` and the UI do).
//
// Figures (medians of RUNS builds):
// - ingestion rate: lines / (time from creating the build until the slowest watcher saw the last line);
//   this includes the build's start and the task process, and every line is stored in build_events and
//   fanned out to every watcher;
// - delay until a watcher sees the last line: from the moment the task printed it (a timestamp in the line)
//   to the moment the slowest watcher parsed it. A task that prints faster than the server reads is held
//   back by its pipe, so this is the latency of the end of a burst (reading, numbering, fanning out), not
//   the burst's length.
// `BENCH_LOG_LINES`, `BENCH_LOG_WATCHERS` and `BENCH_LOG_RUNS` override the sizes; `BENCH_LOG_FLUSH=1` makes
// the task write every line on its own (about as fast: the pipe coalesces them).
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

const LINES = Number(process.env.BENCH_LOG_LINES ?? 200_000);
const WATCHERS = Number(process.env.BENCH_LOG_WATCHERS ?? 10);
const RUNS = Number(process.env.BENCH_LOG_RUNS ?? 3);
const TARGET_LINES_PER_SECOND = 50_000;
const TARGET_DELAY_MS = 2_000;

// Numbered lines, then a last line carrying the wall clock (ms since the epoch) when it was printed. With
// BENCH_LOG_FLUSH=1 the task flushes after every line, as line-buffered programs do: one write per line.
const FLUSH = process.env.BENCH_LOG_FLUSH === '1' ? 'fflush();' : '';
const SCRIPT =
  `awk 'BEGIN { for (i = 1; i < ${LINES}; i++) { print "log line " i " of a build that prints a lot"; ${FLUSH} } }'; ` +
  `echo "last line $(date +%s%3N)"`;

/** One build with WATCHERS followers: when each saw the last line, and when that line was printed. */
async function oneBuild(server) {
  const created = performance.now();
  const createdEpoch = Date.now();
  const build = await api(server, 'POST', '/api/v1/teams/main/builds', taskPlan('sh', ['-c', SCRIPT]));
  const watchers = Array.from({ length: WATCHERS }, () => watch(server, build.id, created, createdEpoch));
  const results = await Promise.all(watchers);
  for (const result of results) {
    if (result.status !== 'succeeded') throw new Error(`build ${build.id} ${result.status}`);
    if (result.lines !== LINES) throw new Error(`a watcher saw ${result.lines} lines, not ${LINES}`);
  }
  const slowest = Math.max(...results.map((result) => result.lastLineAt));
  const printedAt = results[0].printedAt;
  return {
    linesPerSecond: LINES / ((slowest - created) / 1000),
    delayMs: slowest - printedAt,
    buildId: build.id,
  };
}

/** Follow one build's events: count log lines, note when the last one arrived (on the bench's clock). */
async function watch(server, buildId, created, createdEpoch) {
  let lines = 0;
  let partial = '';
  let lastLineAt = 0;
  let printedAt = 0;
  const status = await streamBuildEvents(server, buildId, (event) => {
    if (event.event !== 'log') return;
    const text = partial + event.data.payload;
    const lastNewline = text.lastIndexOf('\n');
    partial = text.slice(lastNewline + 1);
    for (let at = text.indexOf('\n'); at !== -1 && at <= lastNewline; at = text.indexOf('\n', at + 1))
      lines++;
    const last = /last line (\d+)\n$/.exec(text);
    if (last) {
      lastLineAt = performance.now();
      // The task's clock and ours are the same host clock: convert its epoch ms to the bench's timeline.
      printedAt = created + (Number(last[1]) - createdEpoch);
    }
  });
  return { status, lines, lastLineAt, printedAt };
}

const server = await startJetBridge();
try {
  progress(`load average ${loadAverage()}`);
  await oneBuild(server); // warm-up: first build, cold caches
  const runs = [];
  for (let run = 0; run < RUNS; run++) {
    const cpuBefore = await server.cpuMs();
    const result = await oneBuild(server);
    const cpuMs = (await server.cpuMs()) - cpuBefore;
    progress(
      `build ${result.buildId}: ${result.linesPerSecond.toFixed(0)} lines/s, last line seen ` +
        `${result.delayMs.toFixed(0)} ms after it was printed, server CPU ${cpuMs.toFixed(0)} ms`,
    );
    runs.push(result);
  }
  progress(`load average ${loadAverage()}`);
  const rate = median(runs.map((run) => run.linesPerSecond));
  const delay = median(runs.map((run) => run.delayMs));
  figure(
    `log ingestion, ${LINES.toLocaleString('en')} lines, ${WATCHERS} SSE watchers (median of ${RUNS})`,
    `${Math.round(rate).toLocaleString('en')} lines/s`,
    `≥ ${TARGET_LINES_PER_SECOND.toLocaleString('en')} lines/s`,
    rate >= TARGET_LINES_PER_SECOND,
  );
  figure(
    `  delay until every watcher sees the last line`,
    `${delay.toFixed(0)} ms`,
    `< ${TARGET_DELAY_MS} ms`,
    delay < TARGET_DELAY_MS,
  );
} finally {
  await server.stop();
}
