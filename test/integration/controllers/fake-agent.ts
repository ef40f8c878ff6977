/**
 * A stand-in for the node agent in integration tests: registers simulated GPU nodes (a KWOK Node plus its
 * GpuNode with an inventory) and, while running, copies each GpuNode's target layout into its status as
 * realised slices and advertises the matching extended resources on the Node, so the scheduler and KWOK run
 * the pods that ask for them. With `trackPods` it also reports, as the real agent does on a kubelet-less node,
 * which slice each running pod on the node holds (`inUse` and `pod`).
 */
import { API_VERSION, WHOLE_GPU_RESOURCE, migResourceName } from '../../../src/api/constants.js';
import { podExtendedRequests, podTerminated, type PodObject } from '../../../src/api/pods.js';
import type { GpuNode, RealisedGpu, RealisedSlice } from '../../../src/api/types.js';
import type { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';

/** Creates a KWOK Node and its GpuNode with `gpus` idle B200s (optionally in NVLink domain `clique`); `labels` go on both. */
export async function createGpuNode(client: KubeClient, name: string, gpus: number, labels: Record<string, string>, clique?: string): Promise<void> {
  await client.create(RESOURCES.node, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      annotations: { 'kwok.x-k8s.io/node': 'fake' },
      labels: { ...labels, 'kubernetes.io/hostname': name, type: 'kwok', 'haein.dev/simulated': 'true', 'nvidia.com/gpu.product': 'NVIDIA-B200' },
    },
    status: {
      capacity: { cpu: '64', memory: '512Gi', pods: '110' },
      allocatable: { cpu: '64', memory: '512Gi', pods: '110' },
      conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'simulated' }],
    },
  });
  const gn = await client.create<GpuNode>(RESOURCES.gpuNode, { apiVersion: API_VERSION, kind: 'GpuNode', metadata: { name, labels }, spec: {} });
  const realised: RealisedGpu[] = [...Array(gpus).keys()].map((i) => ({ index: i, uuid: `GPU-${name}-${i}`, mode: 'mig', health: 'Healthy', slices: [] }));
  await client.replaceStatus<GpuNode>(RESOURCES.gpuNode, {
    ...gn,
    status: {
      observedGeneration: gn.metadata.generation ?? 1,
      inventory: { product: 'NVIDIA-B200', gpuCount: gpus, memoryMiB: 184320, migCapable: true, ...(clique ? { clique } : {}) },
      gpus: realised,
      conditions: [
        { type: 'AgentReady', status: 'True', reason: 'Running', message: 'simulated', lastTransitionTime: new Date().toISOString() },
        { type: 'LayoutRealised', status: 'True', reason: 'Realised', message: 'simulated', lastTransitionTime: new Date().toISOString() },
      ],
    },
  });
}

/** Realises spec → status on the named GpuNodes every `intervalMs` until stopped. */
export class FakeAgent {
  #timer: NodeJS.Timeout | undefined;
  #busy = false;
  constructor(
    private readonly client: KubeClient,
    private readonly nodes: string[],
    private readonly intervalMs = 200,
    private readonly opts: { trackPods?: boolean } = {},
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.tick(), this.intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
  }

  async tick(): Promise<void> {
    if (this.#busy) return;
    this.#busy = true;
    try {
      for (const name of this.nodes) {
        await this.#realise(name).catch(() => undefined);
        if (this.opts.trackPods) await this.#trackUse(name).catch(() => undefined);
      }
    } finally {
      this.#busy = false;
    }
  }

  async #realise(name: string): Promise<void> {
    const gn = await this.client.get<GpuNode>(RESOURCES.gpuNode, name);
    if (!gn?.status || (gn.status.observedGeneration ?? 0) >= (gn.metadata.generation ?? 0)) return;
    const status = structuredClone(gn.status);
    const alloc: Record<string, number> = {};
    for (const r of status.gpus ?? []) {
      const t = gn.spec?.gpus?.find((g) => g.index === r.index);
      if (t) {
        r.mode = t.mode;
        // A slice that stays keeps its holder (a real agent never destroys a slice in use).
        const kept = (s: { profile: string; start: number }) => r.slices.find((x) => x.profile === s.profile && x.start === s.start);
        r.slices = t.mode === 'mig' ? t.slices.map((s) => kept(s) ?? { profile: s.profile, start: s.start, uuid: `MIG-${name}-${r.index}-${s.start}`, deviceId: `MIG-${name}-${r.index}-${s.start}`, inUse: false }) : [];
        if (t.mode === 'whole') r.deviceId = r.uuid;
      }
      if (r.mode === 'whole') alloc[WHOLE_GPU_RESOURCE] = (alloc[WHOLE_GPU_RESOURCE] ?? 0) + 1;
      for (const s of r.slices) alloc[migResourceName(s.profile)] = (alloc[migResourceName(s.profile)] ?? 0) + 1;
    }
    status.observedGeneration = gn.metadata.generation;
    await this.client.replaceStatus(RESOURCES.gpuNode, { ...gn, status });
    const quantities = Object.fromEntries(Object.entries(alloc).map(([k, v]) => [k, String(v)]));
    await this.client.mergePatchStatus(RESOURCES.node, name, { status: { capacity: quantities, allocatable: quantities } });
  }

  /** Marks the slices running pods on node `name` hold: a pod keeps the slice it held, else takes the first free one of its profile. */
  async #trackUse(name: string): Promise<void> {
    const gn = await this.client.get<GpuNode>(RESOURCES.gpuNode, name);
    if (!gn?.status?.gpus) return;
    const pods = (await this.client.list<PodObject>(RESOURCES.pod, { fieldSelector: `spec.nodeName=${name}` })).items.filter((p) => !podTerminated(p) && p.status?.phase === 'Running');
    const status = structuredClone(gn.status);
    const slices = (status.gpus ?? []).flatMap((g) => g.slices);
    const key = (p: { namespace?: string; name?: string }) => `${p.namespace}/${p.name}`;
    const running = new Set(pods.map((p) => key(p.metadata)));
    const holder = new Map<RealisedSlice, PodObject>();
    const want = new Map<PodObject, Map<string, number>>(pods.map((p) => [p, podExtendedRequests(p)]));
    const take = (s: RealisedSlice, p: PodObject) => {
      holder.set(s, p);
      const need = want.get(p) as Map<string, number>;
      need.set(migResourceName(s.profile), (need.get(migResourceName(s.profile)) ?? 0) - 1);
    };
    const needs = (p: PodObject, s: RealisedSlice) => (want.get(p)?.get(migResourceName(s.profile)) ?? 0) > 0;
    for (const s of slices) {
      const p = s.pod && running.has(key(s.pod)) ? pods.find((x) => key(x.metadata) === key(s.pod ?? {})) : undefined;
      if (p && needs(p, s)) take(s, p);
    }
    for (const p of pods) for (const s of slices) if (!holder.has(s) && needs(p, s)) take(s, p);
    for (const s of slices) {
      const p = holder.get(s);
      s.inUse = p !== undefined;
      if (p) s.pod = { namespace: p.metadata.namespace as string, name: p.metadata.name as string };
      else delete s.pod;
    }
    if (JSON.stringify(status) === JSON.stringify(gn.status)) return;
    await this.client.replaceStatus(RESOURCES.gpuNode, { ...gn, status });
  }
}
