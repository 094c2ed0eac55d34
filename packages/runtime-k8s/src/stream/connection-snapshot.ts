import http from 'node:http';
import https from 'node:https';
import type { ExecKubeConfig } from '../exec/index.js';

/**
 * A kubeconfig's connection to the API server as plain data — the URL and the request options its
 * credentials produce (TLS material, Authorization header) — so another thread can open an exec with it.
 * Taken fresh for each exec, so rotated tokens (in-cluster, exec plugins) are picked up as usual.
 */
export interface ConnectionSnapshot {
  server: string;
  options: Record<string, unknown>;
}

/**
 * The snapshot, or undefined when the connection cannot leave this thread: a proxy (its agent object is
 * the connection) or an option that is not plain data.
 */
export async function snapshotConnection(
  kubeConfig: ExecKubeConfig,
): Promise<ConnectionSnapshot | undefined> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) return undefined;
  const applied: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(applied);
  const { agent, ...rest } = applied;
  // client-node makes a fresh plain agent from the same TLS options unless a proxy is configured; without an
  // agent the exec's WebSocket connects directly with those options, as the plain agent would.
  if (
    agent !== undefined &&
    agent !== false &&
    agent.constructor !== https.Agent &&
    agent.constructor !== http.Agent
  ) {
    return undefined;
  }
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) {
    if (value === undefined) continue;
    try {
      options[key] = structuredClone(value);
    } catch {
      return undefined;
    }
  }
  return { server: cluster.server, options };
}

/** Structured cloning turns a Buffer into a Uint8Array; TLS options want Buffers (or strings) back. */
function asBuffers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(asBuffers);
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  }
  return value;
}

/** A kubeconfig for the exec transport that connects as the snapshot says. */
export function snapshotKubeConfig(snapshot: ConnectionSnapshot): ExecKubeConfig {
  return {
    getCurrentCluster: () => ({ server: snapshot.server }),
    applyToHTTPSOptions: (options) => {
      for (const [key, value] of Object.entries(snapshot.options)) {
        (options as Record<string, unknown>)[key] = asBuffers(value);
      }
      return Promise.resolve();
    },
  };
}
