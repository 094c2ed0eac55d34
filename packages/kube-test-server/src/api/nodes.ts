import { ApiError } from './api-error.js';
import type { Router } from '../http/router.js';
import { nodeObject, type NodeRegistry } from '../kubelet/nodes.js';

/** Nodes: list and get (read-only; node loss goes through `faults.loseNode`). */
export function registerNodeRoutes(router: Router, deps: { nodes: NodeRegistry }): void {
  router
    .add('GET', '/api/v1/nodes', () => ({
      body: {
        kind: 'NodeList',
        apiVersion: 'v1',
        metadata: {},
        items: deps.nodes.list().map((node) => nodeObject(node, deps.nodes.created)),
      },
    }))
    .add('GET', '/api/v1/nodes/:name', (context) => {
      const node = deps.nodes.get(context.params.name ?? '');
      if (!node) throw ApiError.notFound('nodes', context.params.name ?? '');
      return { body: nodeObject(node, deps.nodes.created) };
    });
}
