// The Kubernetes runtime (packages/runtime-k8s) on the in-repo Kubernetes API test server
// (packages/kube-test-server: pods are local processes, so what is measured is JetBridge's own work — API
// calls, watch latency, execs, transfers — without image pulls or a real kubelet). Per artifact mode:
//
// - transfer: a 200 MB artifact (4 incompressible files) moved into a step pod, and (stream mode) out of it,
//   as throughput relative to a plain local `tar c | tar x` pipe of the same data timed right before (input)
//   and right after (output) each transfer
//   (ratio = pipe seconds / transfer seconds; target ≥ 0.5 for the exec transfers of stream mode). The
//   transfer times are the runtime's own metrics: stream in = jetbridge_k8s_artifact_copy_seconds (all the
//   tar-in execs of a pod start), stream out = jetbridge_k8s_exec_duration_seconds{purpose="tar-out"}; in pvc
//   mode the init container's copy report (context: no exec, the claim is shared).
//   Stream mode, 2026-12-07, 16 alternating runs each against the commit before issue #5's work (60aff62) and
//   after it, load average 3.7–11: in 0.53 → 0.72 median (runs under 0.5: 6 → 1 of 16), out 0.49 → 0.44
//   (9 → 10 of 16; within the noise). The output's cost was V8 collections its buffers set off in the web's
//   heap; since it is received in a collector thread, 6 alternating pairs: out 0.44 → 0.71 median
//   (docs/performance.md, "Stream mode's output and the web's young generation"). The web CPU printed per run is
//   the whole process's (all threads).
// - handoff: step A copies the 200 MB input to its output and prints the time as its last act; step B gets
//   A's output as its input. Handoff = from A's last act to B's container being ready (inputs in place), as
//   the engine would chain them (A's wait(), then B's createContainer); it includes B's pod start, printed
//   alongside. The same handoff is timed for a tree of many small files (20,000 files of 1–4 KiB in 1,000
//   nested directories, generated once per run): there per-file work, not bytes, sets the time. Both
//   handoffs of all three modes are printed together at the end, one line per mode.
// - per-step overhead: createContainer → a trivial process's exit status, minus the pod's own start
//   (creationTimestamp → main container startedAt, as the test server's kubelet records them, in ms). Target
//   under 100 ms median for a step without volumes; a step with one small input (200 files) and one output
//   is printed as context (in stream mode both are transfers through execs).
//
// Modes: pvc, stream, node-local (issue #6: the test server simulates 3 nodes, each with an artifact daemon —
// packages/artifact-daemon/dist/cli.js in its own process — on its own hostPath root; B lands on A's node).
// `BENCH_K8S_MB`, `BENCH_K8S_RUNS` (handoff and transfer runs), `BENCH_K8S_SMALL_FILES` (files in the tree;
// 0 leaves it out), `BENCH_K8S_SMALL_RUNS` (its handoff runs) and `BENCH_K8S_STEPS` override the sizes;
// `BENCH_K8S_MODES` (comma-separated, e.g. `stream`) runs only those modes.
// The bench process plays the web (it runs packages/runtime-k8s itself), so it runs with the web's Node flags
// (bench/lib/jetbridge.mjs webNodeFlags: none, as the product starts the web); `BENCH_WEB_NODE_FLAGS` sets them
// to compare (e.g. `--max-semi-space-size=2`: docs/performance.md, "Stream mode's output and the web's young
// generation"); the test server's process runs without them.
// Needs Go (the helper is built with it); without Go the bench says so and prints no figure.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomFillSync, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { figure, loadAverage, median, progress, webNodeFlags } from './lib/jetbridge.mjs';
import { createTarStream, ArtifactStore } from '../packages/artifact-store/dist/index.js';
import { startKubeTestServer } from '../packages/kube-test-server/dist/index.js';
import { K8sWorker } from '../packages/runtime-k8s/dist/index.js';
import { buildHelperBinary, TEST_HELPER_IMAGE } from '../packages/runtime-k8s/dist/testing.js';

const requireFromRuntime = createRequire(new URL('../packages/runtime-k8s/package.json', import.meta.url));
const { Registry } = await import(requireFromRuntime.resolve('prom-client'));

const MB = Number(process.env.BENCH_K8S_MB ?? 200);
const RUNS = Number(process.env.BENCH_K8S_RUNS ?? 3);
const STEPS = Number(process.env.BENCH_K8S_STEPS ?? 15);
const SMALL_FILES = Number(process.env.BENCH_K8S_SMALL_FILES ?? 20_000);
// Fewer runs than the 200 MB case: a tree handoff in stream mode is two 20,000-entry tars through execs.
const SMALL_RUNS = Number(process.env.BENCH_K8S_SMALL_RUNS ?? 2);
const FILES = 4;
const NAMESPACE = 'bench';
const TOKEN = 'kube-test-server';
const SERVER_FLAG = '--kube-test-server';
const CLAIM = 'jetbridge-artifacts';
const NODE_NAMES = ['node-a', 'node-b', 'node-c'];
const DAEMON_HOST_PATH = '/var/lib/jetbridge-artifacts';
const DAEMON_CLI = fileURLToPath(new URL('../packages/artifact-daemon/dist/cli.js', import.meta.url));

/** Artifact modes: how to configure a worker for each (node-local: issue #6). */
const MODES = [
  {
    name: 'pvc',
    config: (env) => ({ artifacts: { mode: 'pvc', claimName: CLAIM, claimMountPath: env.claimDir } }),
  },
  { name: 'stream', config: (env) => ({ artifacts: { mode: 'stream' }, artifactStore: env.webStore }) },
  {
    name: 'node-local',
    config: (env) => ({
      artifacts: {
        mode: 'node-local',
        hostPath: DAEMON_HOST_PATH,
        daemons: env.daemons,
        capabilityKey: env.capabilityKey,
      },
    }),
  },
];

function sh(script) {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${script}: exit ${code}`))));
  });
}

async function timed(work) {
  const began = performance.now();
  const result = await work();
  return { ms: performance.now() - began, result };
}

/** Sum of a histogram's observations (optionally of one label value) on the registry. */
async function histogramSum(registry, name, labels = {}) {
  const metric = registry.getSingleMetric(name);
  if (!metric) return 0;
  const { values } = await metric.get();
  return values
    .filter((value) => value.metricName === `${name}_sum`)
    .filter((value) => Object.entries(labels).every(([key, wanted]) => value.labels[key] === wanted))
    .reduce((sum, value) => sum + value.value, 0);
}

async function waitFor(condition, ms, what) {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * The test server runs in a child process (the API server and the web are separate processes on a cluster;
 * sharing one event loop would bill the server's WebSocket work to the runtime), answering over IPC.
 */
async function startServerProcess() {
  const child = fork(fileURLToPath(import.meta.url), [SERVER_FLAG], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    // The test server plays the API server and kubelet, not the web: it runs without the web's V8 flags.
    execArgv: process.execArgv.filter((flag) => !webNodeFlags().includes(flag)),
  });
  const exited = once(child, 'exit');
  const [message] = await Promise.race([once(child, 'message'), exited.then(() => [undefined])]);
  if (!message) throw new Error('the kube-test-server process did not start');
  return {
    ...message,
    async close() {
      if (child.connected) child.send('stop');
      await exited;
    },
  };
}

async function serveInThisProcess() {
  const server = await startKubeTestServer({ nodes: NODE_NAMES.map((name) => ({ name })) });
  const response = await fetch(`${server.url}/api/v1/namespaces/${NAMESPACE}/persistentvolumeclaims`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      metadata: { name: CLAIM },
      spec: { accessModes: ['ReadWriteMany'], resources: { requests: { storage: '10Gi' } } },
    }),
  });
  if (response.status !== 201) throw new Error(`cannot create the claim: ${await response.text()}`);
  process.send({
    url: server.url,
    kubeConfigYaml: server.kubeConfigYaml(NAMESPACE),
    claimDir: server.claimDir(NAMESPACE, CLAIM),
    nodeRoots: Object.fromEntries(
      NODE_NAMES.map((node) => [node, server.nodeHostPath(node, DAEMON_HOST_PATH)]),
    ),
  });
  // 'stop' from the bench, or the bench gone (killed, or its output piped into `head`): close either way, so
  // no test server (and no pod process) outlives the run.
  const stop = () => void server.close().then(() => process.exit(0));
  process.once('message', stop);
  process.once('disconnect', stop);
}

/** node-local mode: one artifact daemon per simulated node, each its own process (a DaemonSet pod on a cluster). */
async function startDaemons(nodeRoots, capabilityKey) {
  const daemons = {};
  const children = [];
  for (const [node, root] of Object.entries(nodeRoots)) {
    const child = spawn(process.execPath, [DAEMON_CLI, 'artifact-daemon'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: {
        ...process.env,
        CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_BIND_IP: '127.0.0.1',
        CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_PORT: '0',
        CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_HOST_PATH: root,
        CONCOURSE_KUBERNETES_ARTIFACT_DAEMON_CAPABILITY_KEY: capabilityKey,
        NODE_NAME: node,
      },
    });
    children.push(child);
    const [line] = await once(child.stdout, 'data');
    daemons[node] = `http://127.0.0.1:${JSON.parse(line.toString().split('\n')[0]).port}`;
    child.stdout.resume();
  }
  return {
    daemons,
    async close() {
      await Promise.all(
        children.map((child) => {
          const exited = once(child, 'exit');
          child.kill('SIGTERM');
          return exited;
        }),
      );
    },
  };
}

async function startEnvironment(helperPath, scratch) {
  const server = await startServerProcess();
  const capabilityKey = randomBytes(32).toString('hex');
  const daemons = await startDaemons(server.nodeRoots, capabilityKey);
  const kubeconfigPath = path.join(scratch, 'kubeconfig');
  await writeFile(kubeconfigPath, server.kubeConfigYaml);
  // stream mode's volumes live in the web's own store: a directory of this process.
  const webStore = new ArtifactStore({ root: path.join(scratch, 'web-store') });
  const claimDir = server.claimDir;
  return {
    server,
    daemons,
    workerConfig: (mode, registry) => ({
      kubeconfigPath,
      namespace: NAMESPACE,
      helperImage: TEST_HELPER_IMAGE,
      helperBinaryPath: helperPath,
      podPollIntervalMs: 500,
      terminateGraceMs: 2_000,
      terminationGracePeriodSeconds: 2,
      metrics: registry,
      ...mode.config({ claimDir, webStore, daemons: daemons.daemons, capabilityKey }),
    }),
  };
}

function containerSpec(mounts, stepName) {
  return {
    handle: `bench-${randomUUID()}`,
    env: {},
    mounts,
    metadata: { type: 'task', teamName: 'main', stepName, buildId: 1 },
  };
}

async function runToEnd(container, script, stdout) {
  const process = await container.run({ path: 'sh', args: ['-c', script] }, stdout ? { stdout } : {});
  const status = await process.wait();
  if (status !== 0) throw new Error(`${script}: exit ${status}`);
}

/** The pod's own start as its kubelet recorded it: creationTimestamp → main container startedAt (ms). */
async function podStartMs(server, podName) {
  const response = await fetch(`${server.url}/api/v1/namespaces/${NAMESPACE}/pods/${podName}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  if (response.status !== 200) return undefined;
  const pod = await response.json();
  const started = pod?.status?.containerStatuses?.find((status) => status.name === 'main')?.state?.running
    ?.startedAt;
  if (!pod?.metadata.creationTimestamp || !started) return undefined;
  return Date.parse(started) - Date.parse(pod.metadata.creationTimestamp);
}

/** Collects what a process prints. */
class TextCollector extends Writable {
  text = '';
  _write(chunk, _encoding, callback) {
    this.text += chunk.toString('utf8');
    callback();
  }
}

function cpuMs(usage) {
  return Math.round((usage.user + usage.system) / 1000);
}

/** One local `tar c | tar x` of the artifact's data (ms), the yardstick each transfer is compared with. */
async function localPipeMs(source, scratch) {
  const destination = path.join(scratch, `pipe-${randomUUID()}`);
  await mkdir(destination);
  try {
    return (await timed(() => sh(`tar c -C '${source}' . | tar x -C '${destination}'`))).ms;
  } finally {
    await rm(destination, { recursive: true, force: true });
  }
}

/**
 * The small-files tree: SMALL_FILES files of 1–4 KiB (random sizes, incompressible), 20 files a directory in
 * 1,000 directories two levels deep — a node_modules or a source checkout rather than one archive.
 */
async function writeSmallTree(root) {
  const writes = [];
  for (let i = 0; i < SMALL_FILES; i++) {
    const directory = path.join(root, `d${i % 20}`, `e${Math.floor(i / 20) % 50}`);
    if (i < 1_000) await mkdir(directory, { recursive: true });
    writes.push(() => writeFile(path.join(directory, `f${i}.txt`), randomBytes(1024 + ((i * 7919) % 3073))));
  }
  // A few writes at a time: one at a time is slow, all at once opens 20,000 files.
  for (let next = 0; next < writes.length; next += 64) {
    await Promise.all(writes.slice(next, next + 64).map((write) => write()));
  }
}

/** 'handoff A→B' of one volume: A copies `input` to its output, B gets that output as its input. */
async function handoffOnce(worker, env, input, checkScript) {
  const output = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
  const a = await worker.createContainer(
    containerSpec(
      [
        { volume: input, path: 'in', readOnly: true },
        { volume: output, path: 'out' },
      ],
      'a',
    ),
  );
  const stdout = new TextCollector();
  await runToEnd(a, 'cp -r in/. out/ && date +%s%3N', stdout);
  const endedAt = Number(stdout.text.trim().split('\n').pop());
  const b = await worker.createContainer(
    containerSpec([{ volume: output, path: 'in', readOnly: true }], 'b'),
  );
  const handoffMs = Date.now() - endedAt;
  const podStart = (await podStartMs(env.server, b.podName)) ?? 0;
  await runToEnd(b, checkScript);
  await Promise.all([a.destroy(), b.destroy()]);
  await output.destroy();
  return { handoffMs, podStart };
}

async function benchMode(mode, env, source, treeSource, scratch) {
  const registry = new Registry();
  const worker = await K8sWorker.create(env.workerConfig(mode, registry));
  const bytes = MB * 1_000_000;
  try {
    const big = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
    await big.streamIn('.', await createTarStream(source, '.'));

    // Transfer and handoff, RUNS times.
    const inRatios = [];
    const outRatios = [];
    const handoffs = [];
    const podStarts = [];
    for (let run = 0; run < RUNS; run++) {
      const output = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
      // The yardstick is timed right before (and, for the output, right after) each transfer: on a shared
      // machine the load changes from one second to the next.
      const pipeBeforeMs = await localPipeMs(source, scratch);
      const copyBefore = await histogramSum(registry, 'jetbridge_k8s_artifact_copy_seconds');
      // CPU the web spends moving the data (stream mode's transfers are CPU-bound where the pipe is not:
      // on a saturated machine that, not the transport, sets the ratio).
      const cpuBeforeIn = process.cpuUsage();
      const a = await worker.createContainer(
        containerSpec(
          [
            { volume: big, path: 'in', readOnly: true },
            { volume: output, path: 'out' },
          ],
          'a',
        ),
      );
      const webCpuInMs = cpuMs(process.cpuUsage(cpuBeforeIn));
      if (mode.name !== 'stream') {
        // The init container's copy report (node-local: its fetch report) is read from its log after the start.
        await waitFor(
          async () => (await histogramSum(registry, 'jetbridge_k8s_artifact_copy_seconds')) > copyBefore,
          10_000,
          'the copy report',
        ).catch(() => undefined);
      }
      const copySeconds = (await histogramSum(registry, 'jetbridge_k8s_artifact_copy_seconds')) - copyBefore;
      if (copySeconds > 0) inRatios.push(pipeBeforeMs / 1000 / copySeconds);

      const outBefore = await histogramSum(registry, 'jetbridge_k8s_exec_duration_seconds', {
        purpose: 'tar-out',
      });
      const stdout = new TextCollector();
      const cpuBeforeOut = process.cpuUsage();
      await runToEnd(a, 'cp -r in/. out/ && date +%s%3N', stdout);
      const webCpuOutMs = cpuMs(process.cpuUsage(cpuBeforeOut));
      const endedAt = Number(stdout.text.trim().split('\n').pop());
      const outSeconds =
        (await histogramSum(registry, 'jetbridge_k8s_exec_duration_seconds', { purpose: 'tar-out' })) -
        outBefore;
      const pipeAfterMs = await localPipeMs(source, scratch);
      if (outSeconds > 0) outRatios.push(pipeAfterMs / 1000 / outSeconds);

      const b = await worker.createContainer(
        containerSpec([{ volume: output, path: 'in', readOnly: true }], 'b'),
      );
      handoffs.push(Date.now() - endedAt);
      podStarts.push((await podStartMs(env.server, b.podName)) ?? 0);
      await runToEnd(b, `test "$(cat in/* | wc -c)" -eq ${bytes}`);
      await Promise.all([a.destroy(), b.destroy()]);
      await output.destroy();
      progress(
        `${mode.name} run ${run + 1}: local pipe ${(pipeBeforeMs / 1000).toFixed(2)} s / ${(pipeAfterMs / 1000).toFixed(2)} s, input transfer ${copySeconds.toFixed(2)} s, output transfer ${outSeconds.toFixed(2)} s (web CPU ${webCpuInMs} / ${webCpuOutMs} ms), handoff ${handoffs.at(-1)} ms (B's pod start ${podStarts.at(-1)} ms)`,
      );
    }

    // Handoff of the small-files tree, SMALL_RUNS times.
    const treeHandoffs = [];
    const treePodStarts = [];
    if (treeSource) {
      const tree = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
      await tree.streamIn('.', await createTarStream(treeSource, '.'));
      for (let run = 0; run < SMALL_RUNS; run++) {
        const { handoffMs, podStart } = await handoffOnce(
          worker,
          env,
          tree,
          `test "$(find in -type f | wc -l)" -eq ${SMALL_FILES}`,
        );
        treeHandoffs.push(handoffMs);
        treePodStarts.push(podStart);
        progress(
          `${mode.name} small files run ${run + 1}: handoff ${handoffMs} ms (B's pod start ${podStart} ms)`,
        );
      }
      await tree.destroy();
    }

    // Per-step overhead: no volumes, and one small input + one output.
    const small = await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' });
    const smallSource = path.join(path.dirname(source), `small-${mode.name}`);
    await mkdir(smallSource);
    for (let i = 0; i < 200; i++) {
      await mkdir(path.join(smallSource, `d${i % 10}`), { recursive: true });
      await writeFile(path.join(smallSource, `d${i % 10}`, `f${i}.txt`), `${i}\n`.repeat(50));
    }
    await small.streamIn('.', await createTarStream(smallSource, '.'));
    const bare = [];
    const withVolumes = [];
    for (let step = 0; step < STEPS * 2; step++) {
      const volumes = step % 2 === 1;
      const output = volumes
        ? await worker.createVolume({ owner: { kind: 'build', buildId: 1 }, teamName: 'main' })
        : undefined;
      const mounts = volumes
        ? [
            { volume: small, path: 'src', readOnly: true },
            { volume: output, path: 'out' },
          ]
        : [];
      const { ms, result: container } = await timed(async () => {
        const created = await worker.createContainer(containerSpec(mounts, 'overhead'));
        await runToEnd(created, 'true');
        return created;
      });
      const podStart = await podStartMs(env.server, container.podName);
      if (podStart !== undefined && step >= 2) (volumes ? withVolumes : bare).push(ms - podStart);
      await container.destroy();
      await output?.destroy();
    }
    await small.destroy();
    await big.destroy();

    const label = `k8s ${mode.name}`;
    if (mode.name === 'stream') {
      figure(
        `${label}: exec transfer in, ${MB} MB (throughput ÷ local tar pipe)`,
        `${median(inRatios).toFixed(2)}`,
        '≥ 0.5',
      );
      figure(
        `${label}: exec transfer out, ${MB} MB (throughput ÷ local tar pipe)`,
        `${median(outRatios).toFixed(2)}`,
        '≥ 0.5',
      );
    } else {
      figure(
        `${label}: init-container input copy, ${MB} MB (throughput ÷ local tar pipe)`,
        inRatios.length ? `${median(inRatios).toFixed(2)}` : 'n/a',
        '',
      );
    }
    figure(
      `${label}: per-step overhead on top of pod start, no volumes (median)`,
      `${median(bare).toFixed(0)} ms`,
      '< 100 ms',
    );
    figure(
      `${label}: per-step overhead on top of pod start, 1 input + 1 output (median)`,
      `${median(withVolumes).toFixed(0)} ms`,
      '',
    );
    return { handoffs, podStarts, treeHandoffs, treePodStarts };
  } finally {
    await worker.close();
  }
}

/**
 * The handoffs of every mode, one line each, printed together: the 200 MB artifact and the small-files tree
 * side by side (medians; B's pod start, part of each, in brackets).
 */
function printHandoffs(results) {
  const tree = SMALL_FILES > 0 ? ` | ${SMALL_FILES.toLocaleString('en')} small files` : '';
  for (const [mode, result] of results) {
    const big = `${median(result.handoffs).toFixed(0)} ms (pod start ${median(result.podStarts).toFixed(0)} ms)`;
    const small = result.treeHandoffs.length
      ? ` | ${median(result.treeHandoffs).toFixed(0)} ms (pod start ${median(result.treePodStarts).toFixed(0)} ms)`
      : '';
    figure(`k8s ${mode}: handoff A→B, median: ${MB} MB${tree}`, `${big}${small}`, '');
  }
}

if (process.argv[2] === SERVER_FLAG) {
  await serveInThisProcess();
} else if (!webNodeFlags().every((flag) => process.execArgv.includes(flag))) {
  await rerunWithWebFlags();
} else {
  await main();
}

/**
 * This process plays the web (it runs packages/runtime-k8s itself), so it runs with the web's V8 flags, as
 * the product starts the web (bench/lib/jetbridge.mjs, webNodeFlags): started without them, it runs itself
 * again with them, passing signals on so that the test server's process still goes with it.
 */
async function rerunWithWebFlags() {
  const self = fileURLToPath(import.meta.url);
  const child = spawn(
    process.execPath,
    [...process.execArgv, ...webNodeFlags(), self, ...process.argv.slice(2)],
    { stdio: 'inherit' },
  );
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  const [code] = await once(child, 'exit');
  process.exitCode = code ?? 1;
}

async function main() {
  const helper = await buildHelperBinary();
  if ('skip' in helper) {
    progress(`skipped: ${helper.skip}`);
    return;
  }

  const scratch = await mkdtemp(path.join(os.tmpdir(), 'jetbridge-k8s-bench-'));
  let env;
  try {
    // The 200 MB artifact: incompressible, a few files, in the page cache for the pipe and the runtime alike.
    const source = path.join(scratch, 'source');
    await mkdir(source);
    const chunk = Buffer.alloc(1_000_000);
    for (let file = 0; file < FILES; file++) {
      const handle = await open(path.join(source, `blob-${file}.bin`), 'w');
      for (let written = 0; written < MB / FILES; written++) await handle.write(randomFillSync(chunk));
      await handle.close();
    }
    progress(
      `local tar c | tar x of ${MB} MB: ${(await localPipeMs(source, scratch)).toFixed(0)} ms; load ${loadAverage()}`,
    );
    let treeSource;
    if (SMALL_FILES > 0) {
      treeSource = path.join(scratch, 'tree');
      const { ms } = await timed(() => writeSmallTree(treeSource));
      progress(
        `wrote ${SMALL_FILES} small files in ${ms.toFixed(0)} ms; local tar c | tar x of them: ${(await localPipeMs(treeSource, scratch)).toFixed(0)} ms`,
      );
    }
    env = await startEnvironment(helper.path, scratch);
    const results = [];
    const wanted = process.env.BENCH_K8S_MODES?.split(',').map((name) => name.trim());
    for (const mode of MODES.filter((each) => !wanted || wanted.includes(each.name)))
      results.push([mode.name, await benchMode(mode, env, source, treeSource, scratch)]);
    printHandoffs(results);
  } finally {
    await env?.daemons.close();
    await env?.server.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
