/**
 * API writes seen by the kube-apiserver (`apiserver_request_total`) between two scrapes, per verb and
 * resource, with the component that makes each kind of write in this setup. The API server does not label
 * requests by client, so the writer is inferred from who writes what: e.g. only the operator patches
 * GpuNode specs, only the node agent patches GpuNode status. Pure.
 */
import type { Sample } from './prom-text.js';

const WRITE_VERBS = new Set(['POST', 'PUT', 'PATCH', 'DELETE', 'DELETECOLLECTION', 'APPLY']);

/** One row: writes of one verb on one resource (or subresource). */
export interface WriteRow {
  verb: string;
  /** `resource[/subresource]`, with the API group when not core (`gpunodes.gpu.haein.dev`). */
  resource: string;
  count: number;
  /**
   * Refused writes among them: code 409 (conflicts, AlreadyExists), and 422 on GpuNode patches — a failed JSON
   * Patch `test` of the ledger's generation guard, the operator's conflict.
   */
  conflicts: number;
  writer: Writer;
}

/** Who makes a kind of write in the benchmark's setup. */
export type Writer = 'operator' | 'agent' | 'bench' | 'kwok/agent' | 'scheduler' | 'kwok' | 'gc/operator' | 'control plane' | 'mixed';

const HAEIN = 'gpu.haein.dev';

/** The writer of `verb` on `group`/`resource`/`subresource` in this setup. */
export function writerOf(verb: string, group: string, resource: string, subresource: string): Writer {
  if (group === HAEIN) {
    if (resource === 'gpunodes') {
      if (subresource === 'status' || verb === 'POST') return 'agent';
      return verb === 'DELETE' ? 'bench' : 'operator';
    }
    // Partitions and jobs: the benchmark creates and deletes them, the operator patches finalizers and writes status.
    if (subresource === 'status') return 'operator';
    return verb === 'POST' || verb === 'DELETE' ? 'bench' : 'operator';
  }
  if (group === '') {
    if (resource === 'pods') {
      if (subresource === 'binding') return 'scheduler';
      if (subresource === 'status') return 'kwok';
      return verb === 'POST' ? 'operator' : 'gc/operator';
    }
    if (resource === 'services') return verb === 'POST' ? 'operator' : 'gc/operator';
    if (resource === 'nodes') {
      if (subresource === 'status') return 'kwok/agent';
      return verb === 'PATCH' ? 'agent' : 'bench';
    }
    if (resource === 'namespaces' || resource === 'configmaps') return 'bench';
    if (resource === 'events') return 'mixed';
  }
  if (group === 'coordination.k8s.io') return 'control plane';
  return 'control plane';
}

/** Write rows of a counter delta (`apiserver_request_total` after − before), biggest first. */
export function writeRows(diff: Sample[]): WriteRow[] {
  const rows = new Map<string, WriteRow>();
  for (const s of diff) {
    if (s.name !== 'apiserver_request_total' || s.value <= 0) continue;
    const verb = s.labels.verb ?? '';
    if (!WRITE_VERBS.has(verb)) continue;
    const group = s.labels.group ?? '';
    const res = s.labels.resource ?? '';
    const sub = s.labels.subresource ?? '';
    const resource = `${res}${group ? `.${group}` : ''}${sub ? `/${sub}` : ''}`;
    const key = `${verb} ${resource}`;
    const row = rows.get(key) ?? { verb, resource, count: 0, conflicts: 0, writer: writerOf(verb, group, res, sub) };
    row.count += s.value;
    if (s.labels.code === '409' || (s.labels.code === '422' && res === 'gpunodes' && verb === 'PATCH' && sub === '')) row.conflicts += s.value;
    rows.set(key, row);
  }
  return [...rows.values()].sort((a, b) => b.count - a.count || a.resource.localeCompare(b.resource));
}

/** Total writes per writer. */
export function writesByWriter(rows: WriteRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.writer] = (out[r.writer] ?? 0) + r.count;
  return out;
}
