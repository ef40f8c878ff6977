/**
 * End-to-end test of the Helm chart on the node-mode cluster (a real kubelet on containerd, no registry):
 * `helm install` of charts/haein with the locally built image imported into containerd (pull policy Never),
 * the operator and the node-agent DaemonSet become Ready, a pod gets a MIG slice of a GpuPartition through the
 * real kubelet's device manager, a small TrainingJob's workers start with the gang env, and `helm uninstall`
 * removes the release. Needs root (node mode) and `npm run build` (the image is built from dist/).
 */
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { REPO_ROOT, type TestNamespace, createTestNamespace, eventually, kubectl } from '../../support/cluster.js';
import { withDiagnostics } from '../support/diagnostics.js';
import type { NodeModeEnv } from '../support/env-file.js';
import { helmInstall, helmUninstall } from '../support/helm.js';
import { allocatable, ensureHaeinImage, ensureNodeMode, runScript, waitForSettledLayout } from '../support/node-mode.js';
import { createPod, envFromLogs, getPod, podLogs, waitForPhase } from '../support/pods.js';

const RELEASE = 'haein-e2e';
const RELEASE_NS = 'haein-e2e-system';
const PROFILE = '1g.23gb';
const MIG_RESOURCE = `nvidia.com/mig-${PROFILE}`;

/** A TCP port nothing listens on now (the operator runs with hostNetwork, so its ports are host ports). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function getJson<T>(args: string[]): Promise<T | undefined> {
  const out = await kubectl([...args, '-o', 'json', '--ignore-not-found']);
  return out.trim() === '' ? undefined : (JSON.parse(out) as T);
}

interface PartitionView {
  status?: { phase?: string; resourceName?: string; allocations?: Array<{ node: string; uuid?: string; realised: boolean }> };
}
interface GpuNodeView {
  metadata: { generation?: number };
  spec?: { gpus?: unknown };
  status?: {
    observedGeneration?: number;
    gpus?: Array<{ index: number; mode: 'mig' | 'whole'; health?: string; inUse?: boolean; slices: Array<{ profile: string; start: number; inUse: boolean }> }>;
  };
}
interface TrainingJobView {
  status?: { phase?: string };
}

let env: NodeModeEnv;
let ns: TestNamespace | undefined;
let installed = false;
/** Host port of the chart's slice map (hostNetwork), chosen at install. */
let sliceMapPort = 0;
/** The node's GpuNode before the chart's operator rewrote it: its target spec and its realised layout. */
let before: GpuNodeView | undefined;

async function readGpuNode(): Promise<GpuNodeView | undefined> {
  return getJson<GpuNodeView>(['get', 'gpunode', env.nodeName]);
}

/** Waits until the agent has realised the current spec and no slice is in use. */
async function waitQuiescent(what: string): Promise<void> {
  await eventually(
    async () => {
      const g = await readGpuNode();
      if (!g) return true;
      const realised = g.status?.observedGeneration === g.metadata.generation;
      const inUse = (g.status?.gpus ?? []).some((gpu) => gpu.inUse || gpu.slices.some((sl) => sl.inUse));
      return realised && !inUse;
    },
    { timeoutMs: 60_000, what },
  );
}

/**
 * Puts the node back as this suite found it: first an explicit target equal to the realised layout from before
 * (GPUs the operator carved up become whole again), then the original spec (a realised layout stays as is).
 */
async function restoreLayout(): Promise<void> {
  if (!before) return;
  const patch = (gpus: unknown): Promise<string> =>
    kubectl(['patch', 'gpunode', env.nodeName, '--type', 'merge', '-p', JSON.stringify({ spec: { gpus } })]);
  const realised = (before.status?.gpus ?? []).map((g) => ({
    index: g.index,
    mode: g.mode,
    slices: g.slices.map((sl) => ({ profile: sl.profile, start: sl.start })),
  }));
  if (realised.length > 0) {
    await patch(realised);
    await waitQuiescent(`GpuNode ${env.nodeName} back to its earlier layout`);
  }
  await patch(before.spec?.gpus ?? null);
  await waitQuiescent(`GpuNode ${env.nodeName} with its earlier spec`);
  await waitForSettledLayout(env.nodeName, 60_000);
}

beforeAll(async () => {
  env = await ensureNodeMode();
  await ensureHaeinImage(env);
  // What this suite restores at the end is read once an earlier suite's last layout change is realised.
  await waitForSettledLayout(env.nodeName);
  // The chart's DaemonSet serves this node's device plugins; a host agent would register the same resources.
  await runScript('hack/node/agent.sh', ['stop']);
  before = await readGpuNode();
}, 20 * 60_000);

afterAll(async () => {
  // Objects with finalizers go first, while the chart's operator still runs to release their slices.
  if (ns) {
    await kubectl(['delete', 'trainingjobs,gpupartitions,pods', '--all', '-n', ns.name, '--wait=true', '--timeout=90s'], { allowFailure: true });
    await ns.cleanup();
  }
  if (installed) await helmUninstall(RELEASE, RELEASE_NS);
  await kubectl(['delete', 'namespace', RELEASE_NS, '--ignore-not-found', '--wait=false'], { allowFailure: true });
  if (env?.agentMode === 'host') await runScript('hack/node/agent.sh', ['start']).catch((err: unknown) => console.error('restarting the host node agent failed', err));
  // Hand the node over as found, quiescent, so the next suite starts from a known layout.
  await restoreLayout().catch((err: unknown) => console.warn('restoring the node layout after the chart suite failed', err));
}, 5 * 60_000);

describe('helm chart on the node-mode cluster', () => {
  it('installs with the locally imported image; the operator and the node agent become Ready', async () => {
    await withDiagnostics('helm install', [RELEASE_NS], async () => {
      const [metricsPort, healthPort] = [await freePort(), await freePort()];
      sliceMapPort = await freePort();
      await helmInstall(
        RELEASE,
        join(REPO_ROOT, 'charts', 'haein'),
        RELEASE_NS,
        {
          image: { repository: env.haeinImageRepo, tag: env.haeinImageTag, pullPolicy: 'Never' },
          // No kube-proxy: pods use hostNetwork and reach the API server on loopback.
          apiServerOverride: { enabled: true, host: '127.0.0.1', port: env.apiPort },
          // One node and hostNetwork: a second replica could not bind the same ports.
          operator: { replicas: 1, metricsPort, healthPort, podDisruptionBudget: false, topologySpread: { enabled: false } },
          sliceMap: { port: sliceMapPort },
          nodeAgent: {
            model: env.model,
            gpus: env.gpus,
            devicePluginDir: env.devicePluginDir,
            podResourcesDir: dirname(env.podResourcesSocket),
            // The host agent's state dir (hack/node/node-lib.sh): devices keep their UUIDs across the switch.
            stateDir: join(env.nodeState, 'agent'),
          },
        },
        '5m',
      );
      installed = true;

      const pods = JSON.parse(await kubectl(['get', 'pods', '-n', RELEASE_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'json'])) as {
        items: Array<{ metadata: { name: string }; spec: { nodeName: string; containers: Array<{ image: string }> }; status: { conditions?: Array<{ type: string; status: string }>; containerStatuses?: Array<{ imageID: string }> } }>;
      };
      const components = pods.items.map((p) => p.metadata.name);
      expect(components.some((n) => n.includes('operator'))).toBe(true);
      expect(components.some((n) => n.includes('node-agent'))).toBe(true);
      for (const pod of pods.items) {
        expect(pod.spec.nodeName).toBe(env.nodeName);
        expect(pod.spec.containers[0].image).toBe(env.haeinImage);
        expect(pod.status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
        // The image came from containerd's local store: it has a digest although it was never pulled.
        expect(pod.status.containerStatuses?.[0].imageID).toMatch(/sha256:[0-9a-f]{64}/);
      }
    });
  }, 10 * 60_000);

  it('the operator serves the slice map page from the image (no CDN)', async () => {
    expect(installed).toBe(true);
    const page = await fetch(`http://127.0.0.1:${sliceMapPort}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('assets/slice-map.js');
    expect(html).not.toMatch(/https?:\/\//);
    const js = await fetch(`http://127.0.0.1:${sliceMapPort}/assets/slice-map.js`);
    expect(js.status).toBe(200);
    expect((await js.text()).length).toBeGreaterThan(5000);
    const map = (await (await fetch(`http://127.0.0.1:${sliceMapPort}/api/slice-map`)).json()) as { nodes: Array<{ name: string }> };
    expect(map.nodes.map((n) => n.name)).toContain(env.nodeName);
  }, 60_000);

  it('a pod consuming a GpuPartition gets its MIG slice through the real kubelet', async () => {
    expect(installed).toBe(true);
    ns = await createTestNamespace('e2e-chart');
    const nsName = ns.name;
    await withDiagnostics('partition pod', [nsName, RELEASE_NS], async () => {
      await kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'gpu.haein.dev/v1alpha1',
          kind: 'GpuPartition',
          metadata: { name: 'nb', namespace: nsName },
          // Pinned to the real node: simulated (KWOK) GPU nodes may share the cluster.
          spec: { profile: PROFILE, count: 1, gpuProducts: [env.model], nodeSelector: { 'kubernetes.io/hostname': env.nodeName } },
        }),
      });
      const partition = await eventually(
        async () => {
          const p = await getJson<PartitionView>(['get', 'gpupartition', 'nb', '-n', nsName]);
          return p?.status?.phase === 'Ready' ? p : undefined;
        },
        { timeoutMs: 120_000, what: 'GpuPartition nb Ready' },
      );
      expect(partition.status?.resourceName).toBe(MIG_RESOURCE);
      expect(partition.status?.allocations?.[0]?.node).toBe(env.nodeName);
      // The chart's node agent realised the slice and the kubelet's device manager now offers it.
      await eventually(async () => (await allocatable(env.nodeName, MIG_RESOURCE)) >= 1, { timeoutMs: 60_000, what: `${MIG_RESOURCE} allocatable` });

      await createPod(nsName, {
        name: 'nb-pod',
        image: env.busyboxImage,
        command: ['sh', '-c', 'echo NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES'],
        labels: { 'gpu.haein.dev/partition': 'nb' },
        schedulingGates: ['gpu.haein.dev/partition'],
        limits: { [MIG_RESOURCE]: '1' },
      });
      await waitForPhase(nsName, 'nb-pod', ['Succeeded'], 120_000);
      const devices = envFromLogs(await podLogs(nsName, 'nb-pod')).NVIDIA_VISIBLE_DEVICES;
      expect(devices).toMatch(/^MIG-/);
      // The pod must get the partition's own slice (the one the ledger recorded), not any free slice of the
      // same profile on that node.
      const uuid = partition.status?.allocations?.[0]?.uuid;
      if (uuid && devices !== uuid) {
        throw new Error(
          `pod got ${devices} but partition nb holds ${uuid}: the kubelet chose another free ${PROFILE} slice of the node ` +
            '(GetPreferredAllocation/Allocate do not steer a partition pod to its own slice)',
        );
      }
      expect((await getPod(nsName, 'nb-pod'))?.spec.nodeName).toBe(env.nodeName);
    });
  }, 6 * 60_000);

  it('a small TrainingJob starts its gang with rendezvous env and one MIG slice per worker', async () => {
    expect(ns).toBeDefined();
    const nsName = (ns as TestNamespace).name;
    await withDiagnostics('training job', [nsName, RELEASE_NS], async () => {
      await kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'gpu.haein.dev/v1alpha1',
          kind: 'TrainingJob',
          metadata: { name: 'tiny', namespace: nsName },
          spec: {
            replicas: 2,
            profile: PROFILE,
            topology: 'sameNode',
            nodeSelector: { 'kubernetes.io/hostname': env.nodeName },
            restartPolicy: 'Never',
            template: {
              spec: {
                restartPolicy: 'Never',
                terminationGracePeriodSeconds: 2,
                containers: [
                  {
                    name: 'trainer',
                    image: env.busyboxImage,
                    imagePullPolicy: 'Never',
                    command: ['sh', '-c', 'env; sleep 600'],
                  },
                ],
              },
            },
          },
        }),
      });
      const workers = ['tiny-0', 'tiny-1'];
      for (const w of workers) await waitForPhase(nsName, w, ['Running'], 180_000);
      const envs = await Promise.all(
        workers.map((w) =>
          eventually(
            async () => {
              const e = envFromLogs(await podLogs(nsName, w, 'trainer'));
              return e.RANK !== undefined ? e : undefined;
            },
            { timeoutMs: 30_000, what: `env printed by ${w}` },
          ),
        ),
      );
      expect(envs.map((e) => e.RANK).sort()).toEqual(['0', '1']);
      for (const e of envs) {
        expect(e.WORLD_SIZE).toBe('2');
        expect(e.MASTER_ADDR).toBeTruthy();
        expect(e.MASTER_PORT).toMatch(/^\d+$/);
        expect(e.NVIDIA_VISIBLE_DEVICES).toMatch(/^MIG-/);
      }
      // Each worker holds its own slice.
      expect(new Set(envs.map((e) => e.NVIDIA_VISIBLE_DEVICES)).size).toBe(2);
      await eventually(
        async () => (await getJson<TrainingJobView>(['get', 'trainingjob', 'tiny', '-n', nsName]))?.status?.phase === 'Running',
        { timeoutMs: 60_000, what: 'TrainingJob tiny Running' },
      );
    });
  }, 6 * 60_000);

  it('helm uninstall removes the release and its pods', async () => {
    expect(installed).toBe(true);
    await withDiagnostics('helm uninstall', [RELEASE_NS], async () => {
      // Release slices while the operator still runs (finalizers), then uninstall.
      if (ns) await kubectl(['delete', 'trainingjobs,gpupartitions,pods', '--all', '-n', ns.name, '--wait=true', '--timeout=120s']);
      await helmUninstall(RELEASE, RELEASE_NS);
      installed = false;
      await eventually(
        async () => (await kubectl(['get', 'pods,deployments,daemonsets,services,serviceaccounts', '-n', RELEASE_NS, '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name'])).trim() === '',
        { timeoutMs: 120_000, what: 'release resources gone' },
      );
      const clusterScoped = await kubectl(['get', 'clusterroles,clusterrolebindings,validatingadmissionpolicies,validatingadmissionpolicybindings', '-l', `app.kubernetes.io/instance=${RELEASE}`, '-o', 'name'], { allowFailure: true });
      expect(clusterScoped.trim()).toBe('');
    });
  }, 5 * 60_000);
});
