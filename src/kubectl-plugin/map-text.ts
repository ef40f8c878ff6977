/**
 * `kubectl haein map`: one line per GPU with a bar of its 8 memory slots (one character each) and its slices,
 * their state and holders (wide: with their tenant, `*` when held on borrowed quota). Pure.
 */
import type { GpuView, HolderView, NodeView, SliceMapModel, SliceState, SliceView } from '../slice-map/types.js';
import { formatTable } from './table.js';

/** One character per memory slot, by the state of the slice covering it. */
export const SLOT_GLYPH: Record<SliceState | 'uncarved', string> = {
  'in-use': '█',
  allocated: '▓',
  realising: '▒',
  free: '░',
  removing: '×',
  uncarved: '·',
};

/** What the glyphs mean, printed under the table. */
export const MAP_LEGEND = `slots: ${SLOT_GLYPH['in-use']} in use  ${SLOT_GLYPH.allocated} allocated  ${SLOT_GLYPH.realising} realising  ${SLOT_GLYPH.free} free  ${SLOT_GLYPH.removing} removing  ${SLOT_GLYPH.uncarved} uncarved`;

/** What the wide map adds to the legend. */
export const TENANT_LEGEND = 'holders: [tenant] the GpuTenant charged, * on quota borrowed from its cohort (reclaimed first), ~ its namespace\'s tenant (claim from before tenancy)';

/** Narrows a map to one namespace and/or one tenant. */
export interface MapScope {
  namespace?: string;
  tenant?: string;
}

/**
 * The map keeping only GPUs with a slice held in the scope (and nodes with such GPUs), the requests waiting in
 * it, and the tenants it concerns (the tenant itself, or those owning the namespace).
 */
export function narrowMap(model: SliceMapModel, scope: MapScope): SliceMapModel {
  const inScope = (h: { namespace: string; tenant?: string } | undefined) =>
    h !== undefined && (scope.namespace === undefined || h.namespace === scope.namespace) && (scope.tenant === undefined || h.tenant === scope.tenant);
  const nodes: NodeView[] = [];
  for (const n of model.nodes) {
    const gpus = n.gpus.filter((g) => g.slices.some((s) => inScope(s.holder)));
    if (gpus.length > 0) nodes.push({ ...n, gpus });
  }
  return {
    ...model,
    nodes,
    pending: model.pending.filter((p) => inScope(p)),
    tenants: model.tenants.filter((t) => (scope.tenant === undefined || t.name === scope.tenant) && (scope.namespace === undefined || t.namespaces.includes(scope.namespace))),
  };
}

/** The 8-character bar of a GPU. */
export function slotBar(g: GpuView): string {
  const cells: string[] = Array(g.slots).fill(SLOT_GLYPH.uncarved);
  for (const s of g.slices) for (let i = s.start; i < Math.min(g.slots, s.start + s.size); i++) cells[i] = SLOT_GLYPH[s.state];
  return cells.join('');
}

function describeSlice(s: SliceView, wide: boolean): string {
  const where = s.profile === 'whole' ? 'whole' : `${s.profile}@${s.start}`;
  const who = s.holder ? ` ${s.holder.kind === 'TrainingJob' ? 'tj' : 'gpup'}/${s.holder.namespace}/${s.holder.name}#${s.holder.slot}` : '';
  const tenant = wide && s.holder?.tenant ? ` [${tenantMark(s.holder)}]` : '';
  const extra = wide ? `${tenant}${s.pods.length ? ` pods=${s.pods.join(',')}` : ''}${s.uuid ? ` ${s.uuid}` : ''}` : '';
  return `${where} ${s.state}${who}${extra}`;
}

/** `research`, `research*` (borrowed) or `~research` (its namespace's tenant; the claim names none). */
export function tenantMark(h: HolderView): string {
  return `${h.tenantByNamespace ? '~' : ''}${h.tenant ?? ''}${h.borrowed ? '*' : ''}`;
}

/** The table (and legend) for a map. */
export function renderMap(model: SliceMapModel, wide: boolean): string {
  const header = wide ? ['NODE', 'GPU', 'PRODUCT', 'CLIQUE', 'MODE', 'SLOTS', 'SLICES'] : ['NODE', 'GPU', 'MODE', 'SLOTS', 'SLICES'];
  const rows: string[][] = [];
  const counts: Record<SliceState, number> = { 'in-use': 0, allocated: 0, realising: 0, free: 0, removing: 0 };
  for (const n of model.nodes) {
    for (const g of n.gpus) {
      for (const s of g.slices) counts[s.state]++;
      const slices = g.slices.map((s) => describeSlice(s, wide)).join(' | ') || '-';
      const node = n.schedulable ? n.name : `${n.name} (${n.unschedulableReason ?? 'unschedulable'})`;
      const mode = `${g.mode}${g.healthy ? '' : ',unhealthy'}${g.reconfiguring ? ',reconfiguring' : ''}`;
      rows.push(wide ? [node, String(g.index), n.product, n.clique ?? '-', mode, slotBar(g), slices] : [node, String(g.index), mode, slotBar(g), slices]);
    }
  }
  if (rows.length === 0) return 'No GPUs found.';
  const held = model.nodes.flatMap((n) => n.gpus.flatMap((g) => g.slices.map((s) => s.holder))).filter((h) => h !== undefined);
  const borrowed = held.filter((h) => h.borrowed).length;
  const summary = `${model.nodes.length} node(s), ${rows.length} GPU(s); slices: ${counts['in-use']} in use, ${counts.allocated} allocated, ${counts.realising} realising, ${counts.free} free; ${borrowed ? `${borrowed} held on borrowed quota; ` : ''}${model.pending.length} waiting`;
  return `${formatTable(header, rows)}\n\n${MAP_LEGEND}${wide && held.some((h) => h.tenant) ? `\n${TENANT_LEGEND}` : ''}\n${summary}`;
}
