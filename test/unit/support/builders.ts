/** Object builders for controller tests, and a simulated node agent that realises spec → status. */
import { API_VERSION, PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { GpuNode, GpuPartition, GpuPartitionSpec, GpuTenant, GpuTenantSpec, RealisedGpu, TrainingJob, TrainingJobSpec } from '../../../src/api/types.js';
import type { PodObject } from '../../../src/api/pods.js';
import type { NodeObject } from '../../../src/ledger/snapshot.js';

/** A GpuNode whose agent reported `gpus` idle GPUs of `product` and no target yet. */
export function makeGpuNode(name: string, opts: { gpus?: number; product?: string; clique?: string; mode?: 'mig' | 'whole' } = {}): GpuNode {
  const count = opts.gpus ?? 8;
  const gpus: RealisedGpu[] = [...Array(count).keys()].map((i) => ({
    index: i,
    uuid: `GPU-${name}-${i}`,
    mode: opts.mode ?? 'mig',
    health: 'Healthy',
    slices: [],
    ...(opts.mode === 'whole' ? { deviceId: `GPU-${name}-${i}`, inUse: false } : {}),
  }));
  return {
    apiVersion: API_VERSION,
    kind: 'GpuNode',
    metadata: { name },
    spec: {},
    status: {
      observedGeneration: 1,
      inventory: { product: opts.product ?? 'NVIDIA-B200', gpuCount: count, memoryMiB: 184320, migCapable: true, ...(opts.clique ? { clique: opts.clique } : {}) },
      gpus,
      conditions: [{ type: 'LayoutRealised', status: 'True', reason: 'Realised', message: '', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    },
  };
}

/** A Ready, schedulable core Node. */
export function makeNode(name: string, labels: Record<string, string> = {}): NodeObject {
  return { metadata: { name, labels: { 'kubernetes.io/hostname': name, ...labels } }, spec: {}, status: { conditions: [{ type: 'Ready', status: 'True' }] } };
}

/** A GpuPartition. */
export function makePartition(name: string, ns: string, spec: GpuPartitionSpec): GpuPartition {
  return { apiVersion: API_VERSION, kind: 'GpuPartition', metadata: { name, namespace: ns }, spec };
}

/** A TrainingJob with a one-container template. */
export function makeJob(name: string, ns: string, spec: Partial<TrainingJobSpec>): TrainingJob {
  return {
    apiVersion: API_VERSION,
    kind: 'TrainingJob',
    metadata: { name, namespace: ns },
    spec: { replicas: 2, template: { spec: { containers: [{ name: 'trainer', image: 'pytorch:latest' }] } }, ...spec },
  };
}

/** A GpuTenant (nominal 1 unless given), with a status when given. */
export function makeTenant(name: string, spec: Partial<GpuTenantSpec>, status?: GpuTenant['status']): GpuTenant {
  return { apiVersion: API_VERSION, kind: 'GpuTenant', metadata: { name }, spec: { nominal: 1, ...spec }, ...(status ? { status } : {}) };
}

/** A pod naming a partition, gated, asking for `resource`. */
export function makePartitionPod(name: string, ns: string, partition: string, resource: string, opts: { gated?: boolean; phase?: string; node?: string } = {}): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, labels: { [PARTITION_LABEL]: partition } },
    spec: {
      containers: [{ name: 'main', image: 'busybox', resources: { requests: { [resource]: '1' }, limits: { [resource]: '1' } } }],
      ...(opts.gated === false ? {} : { schedulingGates: [{ name: PARTITION_GATE }] }),
      ...(opts.node ? { nodeName: opts.node } : {}),
    },
    status: { phase: opts.phase ?? 'Pending' },
  };
}

/** What the node agent does: realise the target layout into status and report it (uuids derived from position). */
export function realise(gn: GpuNode): void {
  const status = (gn.status ??= {});
  const byIndex = new Map((status.gpus ?? []).map((g) => [g.index, g]));
  for (const t of gn.spec?.gpus ?? []) {
    const r = byIndex.get(t.index);
    if (!r) continue;
    r.mode = t.mode;
    if (t.mode === 'whole') {
      r.slices = [];
      r.deviceId = r.uuid;
      r.inUse ??= false;
      continue;
    }
    const old = r.slices;
    r.slices = t.slices.map((s) => {
      const prev = old.find((o) => o.profile === s.profile && o.start === s.start);
      const uuid = `MIG-${gn.metadata.name}-${t.index}-${s.start}-${s.profile}`;
      return prev ?? { profile: s.profile, start: s.start, uuid, deviceId: uuid, inUse: false };
    });
  }
  status.observedGeneration = gn.metadata.generation ?? 1;
}
