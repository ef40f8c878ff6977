/**
 * End-to-end test of the node agent on a real kubelet (node mode, `hack/node/node-up.sh`): the test plays the
 * operator and writes the node's GpuNode target layout itself. A repartition changes the node's allocatable
 * without restarting the agent or the kubelet; a pod asking for `nvidia.com/mig-1g.23gb: 1` runs and sees the
 * slice's MIG UUID in `NVIDIA_VISIBLE_DEVICES`; the held slice is reported in use and the agent refuses a
 * layout that would destroy it. Run with no Haein operator managing this node (it would rewrite the spec).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { GpuNode, TargetGpu } from '../../../src/api/types.js';
import { type TestNamespace, createTestNamespace, eventually, kubectl, stateDir } from '../../support/cluster.js';
import { withDiagnostics } from '../support/diagnostics.js';
import type { NodeModeEnv } from '../support/env-file.js';
import { allocatable, ensureNodeMode, waitForSettledLayout } from '../support/node-mode.js';
import { createPod, envFromLogs, podLogs, waitForPhase } from '../support/pods.js';

const PROFILE = '1g.23gb';
const MIG_RESOURCE = `nvidia.com/mig-${PROFILE}`;

let env: NodeModeEnv;
let ns: TestNamespace | undefined;
let gpuIndex: number;
let originalSpec: GpuNode['spec'];
/** Allocatable before the test repartitioned its GPU. */
let baseline: { whole: number; mig: number } | undefined;

async function gpuNode(): Promise<GpuNode> {
  return JSON.parse(await kubectl(['get', 'gpunode', env.nodeName, '-o', 'json'])) as GpuNode;
}

async function setTarget(gpu: TargetGpu): Promise<number> {
  const others = (originalSpec?.gpus ?? []).filter((g) => g.index !== gpu.index);
  await kubectl(['patch', 'gpunode', env.nodeName, '--type', 'merge', '-p', JSON.stringify({ spec: { gpus: [...others, gpu] } })]);
  return (await gpuNode()).metadata.generation ?? 0;
}

function agentPid(): string | undefined {
  try {
    return readFileSync(join(stateDir(), 'pids', 'haein-node-agent.pid'), 'utf8').trim();
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  env = await ensureNodeMode();
  // With the chart installed its operator rewrites the GpuNode spec and its admission policy gates MIG pods; a
  // second agent (the chart's DaemonSet) on the same device-plugin dir would fight over the registrations. A
  // just-uninstalled chart gets a minute to go away.
  await eventually(
    async () => {
      const policies = await kubectl(['get', 'validatingadmissionpolicies', '-o', 'name'], { allowFailure: true });
      const agents = await kubectl(['get', 'pods', '-A', '-l', 'app.kubernetes.io/component=node-agent', '-o', 'name'], { allowFailure: true });
      return !policies.includes('partition-pods') && agents.trim() === '';
    },
    { timeoutMs: 60_000, intervalMs: 1000, what: 'no Haein chart on the cluster (this suite plays the operator; helm uninstall first)' },
  );
  const obj = await eventually(async () => {
    const o = await gpuNode();
    return o.status?.inventory ? o : undefined;
  }, { timeoutMs: 60_000, what: `GpuNode ${env.nodeName} with inventory` });
  originalSpec = obj.spec;
  // A suite before this one may have just rewritten the spec: the baseline allocatable is read once it is realised.
  await waitForSettledLayout(env.nodeName);
  // The highest GPU is the one least likely to carry other tests' slices.
  gpuIndex = obj.status!.inventory!.gpuCount - 1;
  ns = await createTestNamespace('e2e-node-agent');
}, 20 * 60_000);

afterAll(async () => {
  if (ns) {
    await kubectl(['delete', 'pods', '--all', '-n', ns.name, '--wait=true', '--timeout=60s'], { allowFailure: true });
    await ns.cleanup();
  }
  if (env) {
    await kubectl(['patch', 'gpunode', env.nodeName, '--type', 'merge', '-p', JSON.stringify({ spec: { gpus: originalSpec?.gpus ?? [] } })], {
      allowFailure: true,
    });
    await waitForSettledLayout(env.nodeName);
  }
}, 2 * 60_000);

describe('node agent on a real kubelet', () => {
  it('a repartition changes the allocatable with no restart', async () => {
    await withDiagnostics('node-agent repartition', [], async () => {
      const pid = agentPid();
      const wholeBefore = await allocatable(env.nodeName, 'nvidia.com/gpu');
      const migBefore = await allocatable(env.nodeName, MIG_RESOURCE);
      baseline = { whole: wholeBefore, mig: migBefore };
      const written = Date.now();
      const generation = await setTarget({
        index: gpuIndex,
        mode: 'mig',
        slices: [
          { profile: PROFILE, start: 0 },
          { profile: PROFILE, start: 1 },
          { profile: '2g.45gb', start: 2 },
          { profile: '3g.90gb', start: 4 },
        ],
      });
      await eventually(
        async () =>
          (await allocatable(env.nodeName, MIG_RESOURCE)) === migBefore + 2 && (await allocatable(env.nodeName, 'nvidia.com/gpu')) === wholeBefore - 1,
        { timeoutMs: 30_000, intervalMs: 100, what: 'allocatable to show the new MIG devices' },
      );
      console.log(`target layout written -> allocatable updated: ${Date.now() - written} ms`);
      // The agent hands each carved device to the kubelet as it goes; the kubelet may report the 1g slices and the
      // whole GPU's removal before the 3g device, and the status is written once the last step is done.
      await waitForSettledLayout(env.nodeName);
      const status = (await gpuNode()).status!;
      expect(status.observedGeneration).toBeGreaterThanOrEqual(generation);
      expect(status.conditions?.find((c) => c.type === 'LayoutRealised')?.status).toBe('True');
      expect(status.gpus![gpuIndex].slices.map((s) => `${s.profile}@${s.start}`)).toEqual([`${PROFILE}@0`, `${PROFILE}@1`, '2g.45gb@2', '3g.90gb@4']);
      expect(await allocatable(env.nodeName, 'nvidia.com/mig-3g.90gb')).toBeGreaterThanOrEqual(1);
      if (pid) expect(agentPid()).toBe(pid);
    });
  }, 2 * 60_000);

  it(`a pod asking for ${MIG_RESOURCE}: 1 runs with its slice in NVIDIA_VISIBLE_DEVICES, which is then in use`, async () => {
    await withDiagnostics('node-agent mig pod', [ns!.name], async () => {
      await createPod(ns!.name, {
        name: 'mig-consumer',
        image: env.busyboxImage,
        command: ['sh', '-c', 'env; sleep 3600'],
        limits: { [MIG_RESOURCE]: '1' },
      });
      await waitForPhase(ns!.name, 'mig-consumer', ['Running'], 120_000);
      const visible = await eventually(async () => envFromLogs(await podLogs(ns!.name, 'mig-consumer')).NVIDIA_VISIBLE_DEVICES, {
        timeoutMs: 30_000,
        what: 'NVIDIA_VISIBLE_DEVICES in the pod log',
      });
      console.log(`pod sees NVIDIA_VISIBLE_DEVICES=${visible}`);
      expect(visible).toMatch(/^MIG-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      const slice = await eventually(
        async () => (await gpuNode()).status?.gpus?.flatMap((g) => g.slices.map((s) => ({ ...s, gpu: g.index }))).find((s) => s.uuid === visible && s.inUse),
        { timeoutMs: 30_000, what: 'the held slice reported inUse in GpuNode status' },
      );
      expect(slice.profile).toBe(PROFILE);

      if (slice.gpu === gpuIndex) {
        // A target that drops the held slice is refused and nothing changes.
        await setTarget({ index: gpuIndex, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0 }] });
        const cond = await eventually(
          async () => (await gpuNode()).status?.conditions?.find((c) => c.type === 'LayoutRealised' && c.reason === 'SliceInUse'),
          { timeoutMs: 30_000, what: 'LayoutRealised=False/SliceInUse' },
        );
        expect(cond.message).toContain(`${PROFILE}@${slice.start}`);
        expect((await gpuNode()).status!.gpus![gpuIndex].slices.some((s) => s.uuid === visible)).toBe(true);
      }
    });
  }, 4 * 60_000);

  it('releasing the pod frees the slice and the pending layout is realised', async () => {
    await withDiagnostics('node-agent release', [ns!.name], async () => {
      await kubectl(['delete', 'pod', '-n', ns!.name, 'mig-consumer', '--wait=true', '--timeout=60s']);
      await setTarget({ index: gpuIndex, mode: 'whole', slices: [] });
      await eventually(
        async () => {
          const o = await gpuNode();
          return o.status?.conditions?.find((c) => c.type === 'LayoutRealised')?.status === 'True' && o.status.gpus?.[gpuIndex].mode === 'whole';
        },
        { timeoutMs: 60_000, what: 'GPU back in whole mode' },
      );
      // The GPU started in whole mode (fresh node) or as the original spec had it; either way the test's own
      // slices must leave the allocatable again.
      await eventually(async () => (await allocatable(env.nodeName, MIG_RESOURCE)) <= (baseline?.mig ?? 0), {
        timeoutMs: 30_000,
        what: `${MIG_RESOURCE} back to its allocatable before the test`,
      });
    });
  }, 3 * 60_000);
});
