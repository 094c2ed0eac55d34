import { KubeApiError, type KubeApi } from './kube-api.js';
import type { KubeEvent, Pod } from './pod-types.js';

/** The pod calls the runtime makes in its namespace, with Kubernetes' answers mapped to what they mean here. */
export class PodClient {
  private readonly pods: string;

  constructor(
    private readonly api: KubeApi,
    readonly namespace: string,
  ) {
    this.pods = `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods`;
  }

  /**
   * Creates the pod; undefined when a pod of that name exists already. When the create had to be retried, a
   * 409 may be our own first try having landed before its answer was lost: a pod of that name carrying all
   * of our labels (instance, handle…) is then taken as the one created.
   */
  async create(pod: Pod): Promise<Pod | undefined> {
    try {
      return await this.api.request<Pod>('POST', this.pods, { body: pod });
    } catch (error) {
      if (!(error instanceof KubeApiError && error.isConflict)) throw error;
      if (error.attempts > 1 && pod.metadata.name !== undefined) {
        const existing = await this.get(pod.metadata.name);
        if (existing && carriesLabels(existing, pod.metadata.labels ?? {})) return existing;
      }
      return undefined;
    }
  }

  /** The pod, or undefined when there is none of that name. */
  async get(name: string): Promise<Pod | undefined> {
    try {
      return await this.api.request<Pod>('GET', `${this.pods}/${encodeURIComponent(name)}`);
    } catch (error) {
      if (error instanceof KubeApiError && error.isNotFound) return undefined;
      throw error;
    }
  }

  /** Deletes the pod (graceful unless told); false when it was already gone. */
  async delete(name: string, gracePeriodSeconds?: number): Promise<boolean> {
    try {
      await this.api.request('DELETE', `${this.pods}/${encodeURIComponent(name)}`, {
        body: {
          kind: 'DeleteOptions',
          apiVersion: 'v1',
          propagationPolicy: 'Background',
          ...(gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds }),
        },
      });
      return true;
    } catch (error) {
      if (error instanceof KubeApiError && error.isNotFound) return false;
      throw error;
    }
  }

  /** Merge-patches annotations; a pod that is gone is not an error. */
  async annotate(name: string, annotations: Record<string, string>): Promise<void> {
    try {
      await this.api.request('PATCH', `${this.pods}/${encodeURIComponent(name)}`, {
        body: { metadata: { annotations } },
        contentType: 'application/merge-patch+json',
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.isNotFound) return;
      throw error;
    }
  }

  /** The pod's events, oldest first (empty when they cannot be read: diagnostics are best effort). */
  async events(name: string): Promise<KubeEvent[]> {
    try {
      const list = await this.api.request<{ items: KubeEvent[] }>(
        'GET',
        `/api/v1/namespaces/${encodeURIComponent(this.namespace)}/events`,
        { query: { fieldSelector: `involvedObject.name=${name}` }, timeoutMs: 5_000 },
      );
      return list.items;
    } catch {
      return [];
    }
  }

  /** The end of a container's log ('' when it cannot be read). */
  async log(name: string, container: string, tailLines = 20): Promise<string> {
    try {
      const response = await this.api.stream(`${this.pods}/${encodeURIComponent(name)}/log`, {
        query: { container, tailLines: String(tailLines) },
        timeoutMs: 5_000,
      });
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      const lines = Buffer.concat(chunks).toString('utf8').split('\n');
      return lines.slice(-tailLines - 1).join('\n');
    } catch {
      return '';
    }
  }
}

function carriesLabels(pod: Pod, labels: Record<string, string>): boolean {
  const actual = pod.metadata.labels ?? {};
  return Object.entries(labels).every(([key, value]) => actual[key] === value);
}
