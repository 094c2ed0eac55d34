import dagre from '@dagrejs/dagre';
import type { GraphEdge, GraphNode, PipelineGraph } from './pipeline-graph.js';

/** A laid-out graph: node centres and edge polylines in SVG coordinates. */
export interface PlacedNode extends GraphNode {
  x: number;
  y: number;
}

export interface PlacedEdge extends GraphEdge {
  points: Array<{ x: number; y: number }>;
}

export interface GraphLayout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

const MARGIN = 20;

/** Left-to-right layered layout (dagre), upstream on the left as Concourse draws pipelines. */
export function layoutGraph(graph: PipelineGraph): GraphLayout {
  const g = new dagre.graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'LR', nodesep: 14, ranksep: 70, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  for (const node of graph.nodes) g.setNode(node.id, { width: node.width, height: node.height });
  for (const edge of graph.edges) g.setEdge(edge.from, edge.to);
  dagre.layout(g);

  const nodes = graph.nodes.map((node) => {
    const placed = g.node(node.id) as { x: number; y: number };
    return { ...node, x: placed.x, y: placed.y };
  });
  const edges = graph.edges.map((edge) => {
    const placed = g.edge(edge.from, edge.to) as { points?: Array<{ x: number; y: number }> } | undefined;
    return { ...edge, points: placed?.points ?? [] };
  });
  const label = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: Math.ceil(label.width ?? 0), height: Math.ceil(label.height ?? 0) };
}
