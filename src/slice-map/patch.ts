/**
 * What changed between two slice maps: the nodes whose view differs (by their JSON), the names of nodes that
 * are gone, and the small sections (pending requests, reconfigurations, fragmentation, totals) in full. One
 * diff is computed per update and sent to every open page. Pure.
 */
import type { NodeView, SliceMapModel, SliceMapPatch } from './types.js';

/** The last model sent, with each node's JSON for cheap comparison. */
export interface SentModel {
  model: SliceMapModel;
  nodeJson: Map<string, string>;
  sectionsJson: string;
}

/** Indexes a model for {@link diffModel}. */
export function indexModel(model: SliceMapModel): SentModel {
  return { model, nodeJson: new Map(model.nodes.map((n) => [n.name, JSON.stringify(n)])), sectionsJson: sectionsJson(model) };
}

/** The patch turning `prev` into `next`, or undefined when nothing but the timestamp changed. */
export function diffModel(prev: SentModel, next: SentModel): SliceMapPatch | undefined {
  const nodes: NodeView[] = [];
  for (const n of next.model.nodes) {
    if (prev.nodeJson.get(n.name) !== next.nodeJson.get(n.name)) nodes.push(n);
  }
  const removed = [...prev.nodeJson.keys()].filter((name) => !next.nodeJson.has(name));
  if (nodes.length === 0 && removed.length === 0 && prev.sectionsJson === next.sectionsJson) return undefined;
  const { nodes: _all, ...sections } = next.model;
  return { ...sections, nodes, removed };
}

/** Applies a patch to a model (what the page does with each update). */
export function applyPatch(model: SliceMapModel, patch: SliceMapPatch): SliceMapModel {
  const byName = new Map(model.nodes.map((n) => [n.name, n]));
  for (const name of patch.removed) byName.delete(name);
  for (const n of patch.nodes) byName.set(n.name, n);
  const { nodes: _changed, removed: _removed, ...sections } = patch;
  return { ...sections, nodes: [...byName.values()].sort((a, b) => a.name.localeCompare(b.name)) };
}

function sectionsJson(model: SliceMapModel): string {
  const { nodes: _nodes, generatedAt: _at, ...rest } = model;
  return JSON.stringify(rest);
}
