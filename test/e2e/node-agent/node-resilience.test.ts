/**
 * Node-level failures on a real kubelet (node mode), with the operator running in-process: a kubelet restart
 * while a pod holds a slice, and the node agent SIGKILLed in the middle of a reconfiguration. Nothing a pod holds
 * may be lost: the pod keeps its device, the ledger keeps its claim, and the agent converges on the target
 * without destroying an in-use slice.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import type { InUseJournal, SimState } from '../../../src/node-agent/simulated-gpu-types.js';
import { eventually, kubectl, stateDir } from '../../support/cluster.js';
import { OperatorHarness } from '../../support/operator-harness.js';
import { withDiagnostics } from '../support/diagnostics.js';
import type { NodeModeEnv } from '../support/env-file.js';
import { allocatable, ensureNodeMode, killNodeAgent, nodeProcessPid, restartKubelet, startNodeAgent, waitForSettledLayout } from '../support/node-mode.js';
import { createPod, envFromLogs, getPod, podLogs, waitForPhase } from '../support/pods.js';

const PROFILE = '1g.23gb';
const MIG_RESOURCE = `nvidia.com/mig-${PROFILE}`;
/** Simulated time per hardware step while the agent is to be killed mid-way: wide enough to land inside. */
const SLOW_STEP_MS = 1500;

let env: NodeModeEnv;
let harness: OperatorHarness | undefined;
let ns = '';
let originalSpec: GpuNode['spec'];
/** The held slice: what the pod saw and the partition's ledger allocation. */
let held: { uuid: string; gpu: number; start: number } | undefined;

const agentStateFile = (): string => join(stateDir(), 'node', 'agent', 'state.json');

async function gpuNode(): Promise<GpuNode> {
  return JSON.parse(await kubectl(['get', 'gpunode', env.nodeName, '-o', 'json'])) as GpuNode;
}

async function partition(name: string): Promise<GpuPartition | undefined> {
  const out = await kubectl(['get', 'gpupartition', name, '-n', ns, '-o', 'json'], { allowFailure: true });
  return out.trim() ? (JSON.parse(out) as GpuPartition) : undefined;
}

async function applyPartition(name: string, profile: string, count: number): Promise<void> {
  await kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({
      apiVersion: 'gpu.haein.dev/v1alpha1',
      kind: 'GpuPartition',
      metadata: { name, namespace: ns },
      // Pinned to the real node: simulated (KWOK) GPU nodes may share the cluster.
      spec: { profile, count, gpuProducts: [env.model], nodeSelector: { 'kubernetes.io/hostname': env.nodeName } },
    }),
  });
}

async function readyPartition(name: string, timeoutMs = 120_000): Promise<GpuPartition> {
  return eventually(
    async () => {
      const p = await partition(name);
      return p?.status?.phase === 'Ready' ? p : undefined;
    },
    { timeoutMs, what: `GpuPartition ${name} Ready` },
  );
}

/** Claims in the GpuNode spec held by `name` of this suite's namespace, as `gpu/start`. */
function ledgerClaims(gn: GpuNode, name: string): string[] {
  return (gn.spec?.gpus ?? []).flatMap((g) =>
    g.slices.filter((s) => s.claim?.namespace === ns && s.claim.name === name).map((s) => `${g.index}/${s.start}`),
  );
}

/** The realised slice with this UUID, with its GPU. */
function realised(gn: GpuNode, uuid: string) {
  for (const g of gn.status?.gpus ?? []) {
    const s = g.slices.find((x) => x.uuid === uuid);
    if (s) return { ...s, gpu: g.index };
  }
  return undefined;
}

/** Registrations of device plugins the host agent logged after `since` (ms). */
function registrationsSince(since: number): string[] {
  const path = join(stateDir(), 'logs', 'haein-node-agent.log');
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.includes('"Registered device plugin"'))
    .map((l) => JSON.parse(l) as { resource: string; timestamp: string })
    .filter((e) => Date.parse(e.timestamp) >= since)
    .map((e) => e.resource);
}

beforeAll(async () => {
  env = await ensureNodeMode();
  if (env.agentMode !== 'host') throw new Error(`this suite kills and restarts the host node agent; node mode runs it as '${env.agentMode}'`);
  // The chart's operator would manage this node too, and its DaemonSet agent would fight ours over the plugins.
  await eventually(
    async () => {
      const agents = await kubectl(['get', 'pods', '-A', '-l', 'app.kubernetes.io/component=node-agent', '-o', 'name'], { allowFailure: true });
      const operators = await kubectl(['get', 'pods', '-A', '-l', 'app.kubernetes.io/component=operator', '-o', 'name'], { allowFailure: true });
      return agents.trim() === '' && operators.trim() === '';
    },
    { timeoutMs: 60_000, intervalMs: 1000, what: 'no Haein chart on the cluster (this suite runs its own operator; helm uninstall first)' },
  );
  const obj = await eventually(async () => {
    const o = await gpuNode();
    return o.status?.inventory ? o : undefined;
  }, { timeoutMs: 60_000, what: `GpuNode ${env.nodeName} with inventory` });
  originalSpec = obj.spec;
  // Start from a fresh board (every GPU whole, nothing claimed): earlier suites leave GPUs carved, and the
  // reconfiguration this suite interrupts must really happen.
  const gpuCount = obj.status!.inventory!.gpuCount;
  await kubectl(['patch', 'gpunode', env.nodeName, '--type', 'merge', '-p', JSON.stringify({ spec: { gpus: [...Array(gpuCount).keys()].map((index) => ({ index, mode: 'whole', slices: [] })) } })]);
  await eventually(
    async () => {
      const gn = await gpuNode();
      const cond = gn.status?.conditions?.find((c) => c.type === 'LayoutRealised');
      return cond?.status === 'True' && cond.observedGeneration === gn.metadata.generation && gn.status?.gpus?.every((g) => g.mode === 'whole');
    },
    { timeoutMs: 90_000, what: `every GPU of ${env.nodeName} back in whole mode (is a pod of another suite still holding a slice?)` },
  );
  harness = await new OperatorHarness().setUp('e2e-node-resilience', { count: 0, gpus: 0 });
  ns = harness.ns.name;
  await harness.startOperator();
}, 20 * 60_000);

afterAll(async () => {
  if (!harness) return;
  // Pods first (they hold slices), then the partitions while the operator still runs to release their claims.
  await kubectl(['delete', 'pods', '--all', '-n', ns, '--wait=true', '--timeout=90s'], { allowFailure: true });
  await kubectl(['delete', 'gpupartitions', '--all', '-n', ns, '--wait=true', '--timeout=90s'], { allowFailure: true });
  await harness.stop();
  // Put the agent back as node-up started it, in case a test left it slow or stopped.
  if (nodeProcessPid('haein-node-agent') === undefined) await startNodeAgent().catch(() => undefined);
  await kubectl(['patch', 'gpunode', env.nodeName, '--type', 'merge', '-p', JSON.stringify({ spec: { gpus: originalSpec?.gpus ?? [] } })], {
    allowFailure: true,
  });
  // The next suite reads its baseline from this node: hand it over only once the restored layout is realised.
  await waitForSettledLayout(env.nodeName);
}, 5 * 60_000);

describe('node failures on a real kubelet', () => {
  it('a kubelet restart while a pod holds a slice: the pod keeps its device, the plugins re-register, the claim stays', async () => {
    await withDiagnostics('kubelet restart', [ns], async () => {
      await applyPartition('nb', PROFILE, 1);
      const before = await readyPartition('nb');
      await eventually(async () => (await allocatable(env.nodeName, MIG_RESOURCE)) >= 1, { timeoutMs: 60_000, what: `${MIG_RESOURCE} allocatable` });
      await createPod(ns, {
        name: 'holder',
        image: env.busyboxImage,
        command: ['sh', '-c', 'env; sleep 3600'],
        labels: { 'gpu.haein.dev/partition': 'nb' },
        schedulingGates: ['gpu.haein.dev/partition'],
        limits: { [MIG_RESOURCE]: '1' },
      });
      await waitForPhase(ns, 'holder', ['Running'], 120_000);
      const visible = await eventually(async () => envFromLogs(await podLogs(ns, 'holder')).NVIDIA_VISIBLE_DEVICES, {
        timeoutMs: 30_000,
        what: 'NVIDIA_VISIBLE_DEVICES in the pod log',
      });
      expect(visible).toMatch(/^MIG-/);
      // The ledger follows the kubelet's choice (claim reconciliation): the partition then holds the pod's slice.
      const settled = await eventually(
        async () => {
          const p = await partition('nb');
          const gn = await gpuNode();
          const slice = realised(gn, visible);
          return p?.status?.allocations?.[0]?.uuid === visible && slice?.inUse && slice.pod?.name === 'holder' ? { p, gn, slice } : undefined;
        },
        { timeoutMs: 60_000, what: 'the pod’s slice in use, held by the pod, and owned by the partition in the ledger' },
      );
      held = { uuid: visible, gpu: settled.slice.gpu, start: settled.slice.start };
      const claimsBefore = ledgerClaims(settled.gn, 'nb');
      expect(claimsBefore).toEqual([`${held.gpu}/${held.start}`]);
      const migBefore = await allocatable(env.nodeName, MIG_RESOURCE);
      const wholeBefore = await allocatable(env.nodeName, 'nvidia.com/gpu');
      const podBefore = await getPod(ns, 'holder');
      console.log(`partition nb (uid ${before.metadata.uid}) holds ${visible}; allocatable ${MIG_RESOURCE}=${migBefore} gpu=${wholeBefore}`);

      const restartedAt = await restartKubelet();
      // The new kubelet wipes the plugin sockets; the agent notices and registers every resource again.
      await eventually(
        async () => {
          const again = new Set(registrationsSince(restartedAt));
          return again.has(MIG_RESOURCE) && (wholeBefore === 0 || again.has('nvidia.com/gpu'));
        },
        { timeoutMs: 60_000, intervalMs: 250, what: 'the device plugins to register with the restarted kubelet' },
      );
      await eventually(
        async () =>
          (await allocatable(env.nodeName, MIG_RESOURCE)) === migBefore && (await allocatable(env.nodeName, 'nvidia.com/gpu')) === wholeBefore,
        { timeoutMs: 90_000, intervalMs: 500, what: 'allocatable back to its value before the restart' },
      );
      console.log(`kubelet restart -> plugins registered and allocatable back: ${Date.now() - restartedAt} ms`);

      // The container was not restarted and still has its device; the kubelet reports it holding the same slice.
      const podAfter = await getPod(ns, 'holder');
      expect(podAfter?.status.phase).toBe('Running');
      expect(podAfter?.metadata.uid).toBe(podBefore?.metadata.uid);
      expect(podAfter?.status.containerStatuses?.[0].restartCount ?? 0).toBe(0);
      expect(podAfter?.status.containerStatuses?.[0].containerID).toBe(podBefore?.status.containerStatuses?.[0].containerID);
      expect(envFromLogs(await podLogs(ns, 'holder')).NVIDIA_VISIBLE_DEVICES).toBe(visible);
      const after = await eventually(
        async () => {
          const gn = await gpuNode();
          const slice = realised(gn, visible);
          return slice?.inUse && slice.pod?.name === 'holder' ? gn : undefined;
        },
        { timeoutMs: 30_000, what: 'the slice still in use by the pod after the restart' },
      );
      expect(ledgerClaims(after, 'nb')).toEqual(claimsBefore);
      const p = await partition('nb');
      expect(p?.metadata.uid).toBe(before.metadata.uid);
      expect(p?.status?.phase).toBe('Ready');
      expect(p?.status?.allocations?.map((a) => a.uuid)).toEqual([visible]);
    });
  }, 8 * 60_000);

  it('the agent SIGKILLed mid-reconfiguration and restarted: the layout converges and no in-use slice is destroyed', async () => {
    expect(held).toBeDefined();
    const { uuid } = held!;
    await withDiagnostics('agent killed mid-reconfiguration', [ns], async () => {
      // Slow hardware steps, so that the kill lands between two of them.
      await startNodeAgent({ HAEIN_RECONFIGURE_DELAY_MS: String(SLOW_STEP_MS) }, 'restart');
      const before = await gpuNode();
      await applyPartition('big', '3g.90gb', 2);
      // The operator writes a target that carves further GPUs; wait for the agent to start on it.
      const generation = await eventually(
        async () => {
          const gn = await gpuNode();
          const cond = gn.status?.conditions?.find((c) => c.type === 'LayoutRealised');
          const gen = gn.metadata.generation ?? 0;
          return gen > (before.metadata.generation ?? 0) && cond?.reason === 'Reconfiguring' && cond.observedGeneration === gen ? gen : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 100, what: 'the agent reconfiguring for the partition big' },
      );
      await new Promise((r) => setTimeout(r, SLOW_STEP_MS * 1.5));
      await killNodeAgent();
      const killedAt = Date.now();

      // What a crash leaves on disk: parsable state and journal, the held slice in both.
      const state = JSON.parse(readFileSync(agentStateFile(), 'utf8')) as SimState;
      const journal = JSON.parse(readFileSync(`${agentStateFile()}.in-use`, 'utf8')) as InUseJournal;
      expect(journal.held.map((h) => h.deviceId)).toContain(uuid);
      expect(state.gpus.flatMap((g) => g.slices.map((s) => s.uuid))).toContain(uuid);
      // The kill landed between steps: the GPUs are neither as they were nor as the target wants them.
      const target = await gpuNode();
      const targeted = new Set((target.spec?.gpus ?? []).map((g) => g.index));
      const layout = (gpus: Array<{ index: number; mode: string; slices: Array<{ profile: string; start: number }> }>) =>
        JSON.stringify(gpus.filter((g) => targeted.has(g.index)).sort((a, b) => a.index - b.index).map((g) => [g.index, g.mode, g.slices.map((x) => `${x.profile}@${x.start}`).sort()]));
      const onDisk = layout(state.gpus);
      expect(onDisk).not.toBe(layout(before.status?.gpus ?? []));
      expect(onDisk).not.toBe(layout(target.spec?.gpus ?? []));
      const midway = target.status?.conditions?.find((c) => c.type === 'LayoutRealised');
      console.log(`agent killed during generation ${generation}: status says ${midway?.reason} (${midway?.message})`);

      await startNodeAgent();
      const converged = await eventually(
        async () => {
          const gn = await gpuNode();
          const cond = gn.status?.conditions?.find((c) => c.type === 'LayoutRealised');
          return cond?.status === 'True' && (gn.status?.observedGeneration ?? 0) >= generation ? gn : undefined;
        },
        { timeoutMs: 120_000, intervalMs: 250, what: 'the layout realised after the agent restart' },
      );
      console.log(`agent restart after SIGKILL -> layout realised: ${Date.now() - killedAt} ms`);
      const big = await readyPartition('big', 60_000);
      expect(big.status?.allocations).toHaveLength(2);

      // Every target slice exists, and the held slice is still there, in use by the same pod.
      for (const t of converged.spec?.gpus ?? []) {
        const r = converged.status?.gpus?.find((g) => g.index === t.index);
        expect(r?.mode).toBe(t.mode);
        expect(r?.slices.map((s) => `${s.profile}@${s.start}`).sort()).toEqual(t.slices.map((s) => `${s.profile}@${s.start}`).sort());
      }
      const slice = realised(converged, uuid);
      expect(slice).toMatchObject({ gpu: held!.gpu, start: held!.start, inUse: true });
      expect((await getPod(ns, 'holder'))?.status.phase).toBe('Running');
      expect(ledgerClaims(converged, 'nb')).toEqual([`${held!.gpu}/${held!.start}`]);
      // Nothing was found corrupt or left half-written.
      const files = readdirSync(join(stateDir(), 'node', 'agent'));
      expect(files.filter((f) => f.includes('.corrupt-') || f.includes('.tmp-'))).toEqual([]);
    });
  }, 8 * 60_000);
});
