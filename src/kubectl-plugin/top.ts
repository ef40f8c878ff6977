/** `kubectl haein top`: slices and whole GPUs held per namespace and profile, from the slice map. Pure. */
import type { SliceMapModel } from '../slice-map/types.js';
import { gpuEquivalentsOf, roundGpuEq } from '../tenancy/gpu-equivalents.js';
import { formatTable } from './table.js';

/** What one namespace holds of one profile (`whole` for whole GPUs). */
export interface TopRow {
  namespace: string;
  profile: string;
  /** Slices (or whole GPUs) reserved. */
  allocated: number;
  /** Of those, held by a running container. */
  inUse: number;
  /** Of those, not created by the node agent yet. */
  realising: number;
  /** Memory slots they cover (8 per GPU). */
  memorySlots: number;
  /** GPU-equivalents they count for (a slice its compute slices / 7, a whole GPU 1). */
  gpuEq: number;
  /** GpuTenants they are held for (`~name`: the namespace's tenant, for claims from before tenancy). */
  tenants: string[];
  /** Holders, `gpup/<name>` or `tj/<name>`. */
  holders: string[];
}

/** Rows by namespace, then profile; only namespaces in `namespaces`, and only slices of `tenant`, when given. */
export function topRows(model: SliceMapModel, namespaces?: Set<string>, tenant?: string): TopRow[] {
  const rows = new Map<string, TopRow & { holderSet: Set<string>; tenantSet: Set<string> }>();
  for (const n of model.nodes) {
    for (const g of n.gpus) {
      for (const s of g.slices) {
        const h = s.holder;
        if (!h || (namespaces && !namespaces.has(h.namespace)) || (tenant !== undefined && h.tenant !== tenant)) continue;
        const key = `${h.namespace}\u0000${s.profile}`;
        let row = rows.get(key);
        if (!row) {
          row = { namespace: h.namespace, profile: s.profile, allocated: 0, inUse: 0, realising: 0, memorySlots: 0, gpuEq: 0, tenants: [], holders: [], holderSet: new Set(), tenantSet: new Set() };
          rows.set(key, row);
        }
        row.allocated++;
        if (s.state === 'in-use') row.inUse++;
        if (s.state === 'realising') row.realising++;
        row.memorySlots += s.size;
        row.gpuEq += gpuEquivalentsOf(s.profile === 'whole' ? undefined : s.profile);
        if (h.tenant) row.tenantSet.add(`${h.tenantByNamespace ? '~' : ''}${h.tenant}`);
        row.holderSet.add(`${h.kind === 'TrainingJob' ? 'tj' : 'gpup'}/${h.name}`);
      }
    }
  }
  return [...rows.values()]
    .map(({ holderSet, tenantSet, ...r }) => ({ ...r, gpuEq: roundGpuEq(r.gpuEq), tenants: [...tenantSet].sort(), holders: [...holderSet].sort() }))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.profile.localeCompare(b.profile));
}

/** The table, with each namespace's share of the cluster's memory slots. */
export function renderTop(rows: TopRow[], totalSlots: number, wide: boolean): string {
  if (rows.length === 0) return 'No slices allocated.';
  const header = ['NAMESPACE', 'PROFILE', 'ALLOCATED', 'IN-USE', 'REALISING', 'GPU-EQ', 'GPU-SHARE', ...(wide ? ['TENANT', 'HOLDERS'] : [])];
  const body = rows.map((r) => [
    r.namespace,
    r.profile,
    String(r.allocated),
    String(r.inUse),
    String(r.realising),
    String(r.gpuEq),
    `${totalSlots > 0 ? ((100 * r.memorySlots) / totalSlots).toFixed(1) : '0.0'}%`,
    ...(wide ? [r.tenants.join(',') || '<none>', r.holders.join(',')] : []),
  ]);
  return formatTable(header, body);
}
