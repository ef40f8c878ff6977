/**
 * What the page shows, decided without the DOM: colours by namespace, partition or tenant, which nodes a filter
 * keeps, which slices it dims, the filter choices a map offers, how tenants and quota waits read, and ages as
 * people read them. Pure (unit-tested).
 */
import { coveredSlots } from '../covered-slots.js';
import type { NodeView, PendingView, SliceView, TenantView } from '../types.js';

/** What slices are coloured by. */
export type ColourBy = 'namespace' | 'partition' | 'tenant';

/** The page's filters; an empty string means "any". */
export interface MapFilter {
  namespace: string;
  tenant: string;
  clique: string;
  product: string;
  /** `free`: nodes with room; `used`: nodes with allocated or busy slices. */
  show: '' | 'free' | 'used';
}

/** No filter at all. */
export const NO_FILTER: MapFilter = { namespace: '', tenant: '', clique: '', product: '', show: '' };

/** The key a slice is coloured by, or undefined for a slice nobody holds (or, by tenant, held for no tenant). */
export function colourKey(slice: SliceView, by: ColourBy): string | undefined {
  const h = slice.holder;
  if (!h) return undefined;
  if (by === 'tenant') return h.tenant;
  return by === 'namespace' ? h.namespace : `${h.namespace}/${h.name}`;
}

/** Well-separated hues for the first keys; more keys than this get hues spread by the golden angle. */
export const PALETTE_HUES = [210, 28, 140, 350, 275, 178, 50, 318, 95];

function hash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/**
 * A hue (0–359) per key. Each key prefers the palette entry its name hashes to, so a namespace mostly keeps its
 * colour from load to load; keys whose entry is taken get the next free one; beyond the palette, hues are
 * spread by the golden angle.
 */
export function assignHues(keys: string[]): Map<string, number> {
  const out = new Map<string, number>();
  const taken = new Set<number>();
  const sorted = [...new Set(keys)].sort();
  for (const key of sorted) {
    if (taken.size >= PALETTE_HUES.length) {
      out.set(key, Math.round((hash(key) % 360) * 137.508) % 360);
      continue;
    }
    let i = hash(key) % PALETTE_HUES.length;
    while (taken.has(i)) i = (i + 1) % PALETTE_HUES.length;
    taken.add(i);
    out.set(key, PALETTE_HUES[i] as number);
  }
  return out;
}

/** CSS custom properties of a hue: `--c` strong (in use), `--l` light (allocated, idle). */
export function colourStyle(hue: number | undefined): string {
  if (hue === undefined) return '';
  return `--c:hsl(${hue} 62% 42%);--l:hsl(${hue} 72% 80%)`;
}

/** Every colour key on the map. */
export function colourKeys(nodes: NodeView[], by: ColourBy): string[] {
  const keys = new Set<string>();
  for (const n of nodes) for (const g of n.gpus) for (const s of g.slices) {
    const k = colourKey(s, by);
    if (k !== undefined) keys.add(k);
  }
  return [...keys];
}

/** Free capacity on a GPU: a free carved slice, uncarved memory, or an idle unclaimed whole GPU. */
function gpuHasRoom(g: NodeView['gpus'][number]): boolean {
  if (!g.healthy) return false;
  if (g.slices.some((s) => s.state === 'free')) return true;
  return g.mode === 'mig' && coveredSlots(g) < g.slots;
}

/** True when the node passes the filter. */
export function nodeVisible(node: NodeView, f: MapFilter): boolean {
  if (f.product && node.product !== f.product) return false;
  if (f.clique && node.clique !== f.clique) return false;
  if ((f.namespace || f.tenant) && !node.gpus.some((g) => g.slices.some((s) => !sliceDimmed(s, f)))) return false;
  if (f.show === 'free' && !(node.schedulable && node.gpus.some(gpuHasRoom))) return false;
  if (f.show === 'used' && !node.gpus.some((g) => g.slices.some((s) => s.state === 'in-use' || s.holder))) return false;
  return true;
}

/** True when the slice is shown faded: not the filtered namespace's or tenant's while such a filter is set. */
export function sliceDimmed(slice: SliceView, f: MapFilter): boolean {
  return (f.namespace !== '' && slice.holder?.namespace !== f.namespace) || (f.tenant !== '' && slice.holder?.tenant !== f.tenant);
}

/** The values each filter can take on this map, sorted: tenants are those holding slices and every GpuTenant. */
export function filterChoices(nodes: NodeView[], tenants: TenantView[] = []): { namespaces: string[]; tenants: string[]; cliques: string[]; products: string[] } {
  const namespaces = new Set<string>();
  const tenantNames = new Set(tenants.map((t) => t.name));
  const cliques = new Set<string>();
  const products = new Set<string>();
  for (const n of nodes) {
    products.add(n.product);
    if (n.clique) cliques.add(n.clique);
    for (const g of n.gpus) {
      for (const s of g.slices) {
        if (!s.holder) continue;
        namespaces.add(s.holder.namespace);
        if (s.holder.tenant) tenantNames.add(s.holder.tenant);
      }
    }
  }
  const sorted = (s: Set<string>) => [...s].sort();
  return { namespaces: sorted(namespaces), tenants: sorted(tenantNames), cliques: sorted(cliques), products: sorted(products) };
}

/** `research*` for a borrowed slice of tenant research, `research (by namespace)` for a claim from before tenancy. */
export function tenantLabel(slice: SliceView): string {
  const h = slice.holder;
  if (!h?.tenant) return 'no tenant';
  return `${h.tenant}${h.borrowed ? '*' : ''}${h.tenantByNamespace ? ' (by namespace)' : ''}`;
}

/** True when a pending request waits because its tenant's quota does not cover it (not for capacity). */
export function quotaWait(p: PendingView): boolean {
  return p.quota !== undefined && !p.quota.reserved;
}

/** Tenants grouped by cohort (cohorts by name, tenants without one last), each group by tenant name. */
export function tenantsByCohort(tenants: TenantView[]): Array<{ cohort: string | undefined; tenants: TenantView[] }> {
  const groups = new Map<string | undefined, TenantView[]>();
  for (const t of [...tenants].sort((a, b) => a.name.localeCompare(b.name))) groups.set(t.cohort, [...(groups.get(t.cohort) ?? []), t]);
  return [...groups.entries()]
    .sort(([a], [b]) => (a === undefined ? 1 : b === undefined ? -1 : a.localeCompare(b)))
    .map(([cohort, members]) => ({ cohort, tenants: members }));
}

/** `45s`, `12m`, `3h`, `2d`: how long ago `iso` was, as of `now`. */
export function age(iso: string | undefined, now: number): string {
  if (!iso) return '';
  const s = Math.max(0, Math.floor((now - Date.parse(iso)) / 1000));
  if (Number.isNaN(s)) return '';
  if (s < 90) return `${s}s`;
  if (s < 90 * 60) return `${Math.floor(s / 60)}m`;
  if (s < 36 * 3600) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

/** Hover text of a slice. */
export function sliceTitle(node: string, gpu: number, s: SliceView): string {
  const who = s.holder ? `${s.holder.kind} ${s.holder.namespace}/${s.holder.name} #${s.holder.slot}${s.holder.tenant ? ` · tenant ${tenantLabel(s)}` : ''}` : 'no holder';
  return `${node} GPU ${gpu} · ${s.profile} @${s.start} · ${s.state} · ${who}${s.pods.length ? ` · pods ${s.pods.join(', ')}` : ''}`;
}

/** Where a slice is: `node/gpu/start`, the page's selection key. */
export function sliceId(node: string, gpu: number, start: number): string {
  return `${node}/${gpu}/${start}`;
}
