/**
 * `kubectl haein map`: one line per GPU with a bar of its 8 memory slots (one character each) and its slices,
 * their state and holders. Pure.
 */
import type { GpuView, NodeView, SliceMapModel, SliceState, SliceView } from '../slice-map/types.js';
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

/** The map keeping only GPUs with a slice of `namespace` (and nodes with such GPUs). */
export function mapForNamespace(model: SliceMapModel, namespace: string): SliceMapModel {
  const nodes: NodeView[] = [];
  for (const n of model.nodes) {
    const gpus = n.gpus.filter((g) => g.slices.some((s) => s.holder?.namespace === namespace));
    if (gpus.length > 0) nodes.push({ ...n, gpus });
  }
  return {
    ...model,
    nodes,
    pending: model.pending.filter((p) => p.namespace === namespace),
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
  const extra = wide ? `${s.pods.length ? ` pods=${s.pods.join(',')}` : ''}${s.uuid ? ` ${s.uuid}` : ''}` : '';
  return `${where} ${s.state}${who}${extra}`;
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
  const summary = `${model.nodes.length} node(s), ${rows.length} GPU(s); slices: ${counts['in-use']} in use, ${counts.allocated} allocated, ${counts.realising} realising, ${counts.free} free; ${model.pending.length} waiting`;
  return `${formatTable(header, rows)}\n\n${MAP_LEGEND}\n${summary}`;
}
