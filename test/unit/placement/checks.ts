/**
 * Independent checks of a placement result against the contract, and a brute-force solver for tiny
 * clusters. Written without the engine's code so the tests compare two implementations.
 */
import { findProfile, modelForProduct, validateLayout, type MigProfile } from '../../../src/placement/catalog.js';
import type { ClusterSnapshot, GpuSnapshot, PlacementRequest, PlacementResult, SliceSnapshot } from '../../../src/placement/types.js';

function profileFor(product: string, m: PlacementRequest['members'][number]): MigProfile | undefined {
  const model = modelForProduct(product);
  if (!model || m.kind !== 'slice') return undefined;
  if (m.profile) return findProfile(model, m.profile);
  const fits = model.profiles.filter((p) => p.memoryMiB >= (m.memoryMiB ?? 0) && p.computeSlices >= (m.computeSlices ?? 1));
  fits.sort((a, b) => a.memorySlots - b.memorySlots || a.computeSlices - b.computeSlices || Number(a.mediaExtensions) - Number(b.mediaExtensions));
  return fits[0];
}

const busy = (s: SliceSnapshot) => s.holder !== undefined || s.inUse;
const idleGpu = (g: GpuSnapshot) => !g.holder && !g.inUse && !g.slices.some(busy);

/** Problems of `result` for `request` on `snapshot` ([] when it respects every rule). */
export function contractProblems(snapshot: ClusterSnapshot, request: PlacementRequest, result: PlacementResult): string[] {
  if (!result.ok) return [];
  const problems: string[] = [];
  const victims = new Set(result.victims.map((v) => `${v.node}/${v.gpuIndex}/${v.holderKey}`));
  const keys = new Set(request.members.map((m) => m.key));
  const layouts = new Map(result.layouts.map((l) => [`${l.node}/${l.gpuIndex}`, l]));
  for (const node of snapshot.nodes) {
    const model = modelForProduct(node.product);
    for (const g of node.gpus) {
      const l = layouts.get(`${node.name}/${g.index}`);
      if (!l) continue;
      const where = `${node.name}/${g.index}`;
      if (!model) problems.push(`${where}: layout for an unknown model`);
      else for (const p of validateLayout(model, l.mode === 'mig' ? l.slices : [])) problems.push(`${where}: ${p}`);
      if (l.mode === 'whole' && l.slices.length > 0) problems.push(`${where}: whole mode with slices`);
      if (l.slices.some((x, i) => i > 0 && l.slices[i - 1].start >= x.start)) problems.push(`${where}: layout slices not sorted by start`);
      if (!g.healthy || !node.schedulable) problems.push(`${where}: new allocation on an unhealthy GPU or unschedulable node`);
      const changedMode = l.mode !== g.mode;
      const victimHere = [...victims].some((v) => v.startsWith(`${where}/`));
      if (changedMode && !idleGpu(g) && !victimHere) problems.push(`${where}: mode changed on a busy GPU`);
      // Every held or in-use slice survives unchanged unless its holder is a victim.
      for (const s of g.slices.filter(busy)) {
        if (s.holder && victims.has(`${where}/${s.holder.key}`)) continue;
        const kept = l.slices.some((t) => t.profile === s.profile && t.start === s.start && t.holder?.key === s.holder?.key && t.inUse === s.inUse);
        if (!kept) problems.push(`${where}: busy slice ${s.profile}@${s.start} removed or changed`);
      }
      if (g.holder && !victims.has(`${where}/${g.holder.key}`) && l.holder?.key !== g.holder.key) problems.push(`${where}: whole holder replaced`);
      // A GPU a container uses without a holder in the ledger belongs to nobody the engine may displace.
      if (g.mode === 'whole' && g.inUse && !g.holder) problems.push(`${where}: whole GPU in use by an unknown holder was changed or handed out`);
      for (const t of l.slices) {
        if (t.holder && !keys.has(t.holder.key) && !g.slices.some((s) => s.start === t.start && s.holder?.key === t.holder?.key)) {
          problems.push(`${where}: slice ${t.profile}@${t.start} given to foreign holder ${t.holder.key}`);
        }
      }
    }
  }
  // Assignments agree with the layouts and the topology.
  const nodesUsed: string[] = [];
  for (const a of result.assignments) {
    nodesUsed.push(a.node);
    for (const idx of a.gpuIndices) {
      const l = layouts.get(`${a.node}/${idx}`);
      if (!l) {
        problems.push(`${a.key}: no layout for ${a.node}/${idx}`);
        continue;
      }
      const ok = a.profile ? l.slices.some((s) => s.holder?.key === a.key && s.profile === a.profile && s.start === a.start) : l.holder?.key === a.key && l.mode === 'whole';
      if (!ok) problems.push(`${a.key}: assignment not reflected in the layout of ${a.node}/${idx}`);
    }
  }
  if (result.assignments.length !== request.members.length) problems.push('not every member was assigned');
  const topo = request.topology ?? 'any';
  const cliqueOf = (n: string) => {
    const node = snapshot.nodes.find((x) => x.name === n);
    return node?.clique ?? `node:${n}`;
  };
  if (topo === 'sameNode' && new Set(nodesUsed).size > 1) problems.push('sameNode violated');
  if (topo === 'sameClique' && new Set(nodesUsed.map(cliqueOf)).size > 1) problems.push('sameClique violated');
  if (topo === 'spread' && new Set(nodesUsed).size !== nodesUsed.length) problems.push('spread violated');
  return problems;
}

interface Work {
  node: string;
  clique: string;
  product: string;
  gpu: GpuSnapshot;
  /** Slices that must stay (busy) plus what the search added. */
  slices: Array<{ profile: string; start: number }>;
  taken: boolean;
}

/** True when some assignment of every member exists (no preemption), by exhaustive search. */
export function bruteForceFeasible(snapshot: ClusterSnapshot, request: PlacementRequest): boolean {
  const work: Work[] = [];
  for (const n of snapshot.nodes) {
    for (const g of n.gpus) {
      work.push({ node: n.name, clique: n.clique ?? `node:${n.name}`, product: n.product, gpu: g, slices: g.slices.filter(busy).map((s) => ({ profile: s.profile, start: s.start })), taken: false });
    }
  }
  const usable = (w: Work) => {
    const node = snapshot.nodes.find((n) => n.name === w.node);
    return !!node?.schedulable && w.gpu.healthy && !!modelForProduct(w.product);
  };
  const placedOn: string[] = [];
  const topo = request.topology ?? 'any';
  const topologyOk = () => {
    if (topo === 'sameNode') return new Set(placedOn).size <= 1;
    if (topo === 'sameClique') return new Set(placedOn.map((n) => work.find((w) => w.node === n)?.clique)).size <= 1;
    if (topo === 'spread') return new Set(placedOn).size === placedOn.length;
    return true;
  };
  const walk = (i: number): boolean => {
    if (i === request.members.length) return true;
    const m = request.members[i];
    if (m.kind === 'slice') {
      for (const w of work) {
        if (!usable(w) || w.taken) continue;
        const wasWhole = w.gpu.mode === 'whole';
        if (wasWhole && !idleGpu(w.gpu)) continue;
        const model = modelForProduct(w.product);
        const p = profileFor(w.product, m);
        if (!model || !p) continue;
        for (const start of p.starts) {
          const next = [...w.slices, { profile: p.name, start }];
          if (validateLayout(model, next).length > 0) continue;
          w.slices = next;
          placedOn.push(w.node);
          const ok = topologyOk() && walk(i + 1);
          placedOn.pop();
          w.slices = next.slice(0, -1);
          if (ok) return true;
        }
      }
      return false;
    }
    const nodes = [...new Set(work.map((w) => w.node))];
    for (const n of nodes) {
      const free = work.filter((w) => w.node === n && usable(w) && !w.taken && idleGpu(w.gpu) && w.slices.length === 0 &&
        (w.gpu.mode === 'whole' || modelForProduct(w.product)?.migCapable));
      if (free.length < m.gpus) continue;
      // Which idle GPUs a whole member takes only matters for later members on the same node: try all subsets.
      const subsets = (from: number, k: number): Work[][] => (k === 0 ? [[]] : free.slice(from).flatMap((w, j) => subsets(from + j + 1, k - 1).map((rest) => [w, ...rest])));
      for (const pick of subsets(0, m.gpus)) {
        pick.forEach((w) => (w.taken = true));
        placedOn.push(n);
        const ok = topologyOk() && walk(i + 1);
        placedOn.pop();
        pick.forEach((w) => (w.taken = false));
        if (ok) return true;
      }
    }
    return false;
  };
  return walk(0);
}

/**
 * The snapshot as it would be if every holder `request` may preempt were gone: what a brute-force search may
 * use when checking that the engine finds a placement with preemption whenever one exists.
 */
export function withoutPreemptible(snapshot: ClusterSnapshot, priority: number): ClusterSnapshot {
  const victim = (h: { priority: number; preemptible: boolean } | undefined) => h !== undefined && h.preemptible && h.priority < priority;
  return {
    nodes: snapshot.nodes.map((n) => ({
      ...n,
      gpus: n.gpus.map((g) => {
        const slices = g.slices.filter((s) => !victim(s.holder));
        if (!victim(g.holder)) return { ...g, slices };
        const { holder: _gone, inUse: _free, ...rest } = g;
        return { ...rest, slices };
      }),
    })),
  };
}
