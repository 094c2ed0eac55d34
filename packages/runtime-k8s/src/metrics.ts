import { Counter, Histogram, type Registry } from 'prom-client';
import type { HelperPurpose } from './helper/helper-exec.js';

/**
 * What the Kubernetes runtime measures, on the web's prom-client Registry when one is given (no-ops
 * otherwise). Histograms rather than JetBridge-the-fork's max-gauge, so p50/p99 pod start can be read.
 * Metrics already on the registry are reused, so two workers (a restart in one process, tests) can share it.
 */
export class K8sRuntimeMetrics {
  private constructor(
    private readonly podStartSeconds?: Histogram,
    private readonly podFailures?: Counter,
    private readonly execBytes?: Counter,
    private readonly execSeconds?: Histogram,
    private readonly copySeconds?: Histogram,
    private readonly copyBytes?: Histogram,
    private readonly reattaches?: Counter,
    private readonly watchRestarts?: Counter,
  ) {}

  static create(registry: Registry | undefined): K8sRuntimeMetrics {
    if (!registry) return new K8sRuntimeMetrics();
    const histogram = (name: string, help: string, buckets: number[], labelNames: string[] = []) =>
      (registry.getSingleMetric(name) as Histogram | undefined) ??
      new Histogram({ name, help, buckets, labelNames, registers: [registry] });
    const counter = (name: string, help: string, labelNames: string[]) =>
      (registry.getSingleMetric(name) as Counter | undefined) ??
      new Counter({ name, help, labelNames, registers: [registry] });
    const seconds = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
    return new K8sRuntimeMetrics(
      histogram(
        'jetbridge_k8s_pod_start_seconds',
        'Time from creating a step pod to its main container running (image pulls and input copies included)',
        seconds,
      ),
      counter('jetbridge_k8s_pod_failures_total', 'Step pods that failed, by reason', ['reason']),
      counter('jetbridge_k8s_exec_bytes_total', 'Bytes moved through helper execs', ['purpose', 'direction']),
      histogram(
        'jetbridge_k8s_exec_duration_seconds',
        'Duration of helper execs',
        [0.01, 0.05, 0.1, 0.25, 0.5, 1, 5, 30, 120, 600, 3600],
        ['purpose'],
      ),
      histogram(
        'jetbridge_k8s_artifact_copy_seconds',
        'Time the init container spent copying inputs',
        seconds,
      ),
      histogram(
        'jetbridge_k8s_artifact_copy_bytes',
        'Bytes of inputs copied into a step pod',
        [1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10],
      ),
      counter(
        'jetbridge_k8s_reattaches_total',
        'Re-attachments to step processes (after a dropped exec, or by a restarted web)',
        ['kind'],
      ),
      counter('jetbridge_k8s_watch_restarts_total', 'Pod watch restarts, by cause', ['cause']),
    );
  }

  podStarted(seconds: number): void {
    this.podStartSeconds?.observe(seconds);
  }

  podFailed(reason: string): void {
    this.podFailures?.inc({ reason });
  }

  exec(purpose: HelperPurpose, stats: { sent: number; received: number; seconds: number }): void {
    this.execBytes?.inc({ purpose, direction: 'sent' }, stats.sent);
    this.execBytes?.inc({ purpose, direction: 'received' }, stats.received);
    this.execSeconds?.observe({ purpose }, stats.seconds);
  }

  inputsCopied(stats: { seconds: number; bytes: number }): void {
    this.copySeconds?.observe(stats.seconds);
    this.copyBytes?.observe(stats.bytes);
  }

  reattached(kind: 'reconnect' | 'attach'): void {
    this.reattaches?.inc({ kind });
  }

  watchRestarted(cause: string): void {
    this.watchRestarts?.inc({ cause });
  }
}
