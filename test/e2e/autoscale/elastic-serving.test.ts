/**
 * Serving on slices on a real kubelet (node mode): the operator runs in-process for this suite's namespace, the
 * node agent is the node's device plugin. An elastic 3g.90gb partition pinned to the node follows a serving
 * Deployment scaled 1 → 3: every replica runs with its own MIG device in NVIDIA_VISIBLE_DEVICES, the one its
 * partition reports and the node reports in use by that pod. Scaled back to 1, the partition releases the idle
 * slices after the delay and keeps the one the remaining replica holds.
 */
import winston from 'winston';
import { PARTITION_GATE, PARTITION_LABEL } from '../../../src/api/constants.js';
import type { GpuNode, GpuPartition } from '../../../src/api/types.js';
import { registerControllers } from '../../../src/controllers/operator-setup.js';
import { KubeClient } from '../../../src/k8s/client.js';
import { RESOURCES } from '../../../src/k8s/resources.js';
import { Manager } from '../../../src/runtime/manager.js';
import { type TestNamespace, createTestNamespace, eventually, getKubeConfig, installCrds, kubectl } from '../../support/cluster.js';
import { withDiagnostics } from '../support/diagnostics.js';
import type { NodeModeEnv } from '../support/env-file.js';
import { ensureNodeMode } from '../support/node-mode.js';
import { envFromLogs, podLogs, type PodView } from '../support/pods.js';

const RES = 'nvidia.com/mig-3g.90gb';
const DELAY_S = 5;

let env: NodeModeEnv;
let ns: TestNamespace | undefined;
let client: KubeClient;
let manager: Manager | undefined;

beforeAll(async () => {
  env = await ensureNodeMode();
  // A chart-installed operator would manage this namespace too: two leaders of one ledger. Wait until none is left.
  await eventually(
    async () => (await kubectl(['get', 'deployments', '-A', '-l', 'app.kubernetes.io/component=operator', '-o', 'name'], { allowFailure: true })).trim() === '',
    { timeoutMs: 60_000, intervalMs: 1000, what: 'no Haein operator Deployment on the cluster (helm uninstall first)' },
  );
  client = new KubeClient(getKubeConfig());
  await installCrds();
  ns = await createTestNamespace('e2e-serving');
  const logger = winston.createLogger({ silent: !process.env.HAEIN_TEST_LOGS, transports: [new winston.transports.Console()] });
  manager = new Manager({ client, health: false, leaderElection: false, handleSignals: false, logger });
  registerControllers(manager, client, { namespace: ns.name, logger });
  await manager.start();
}, 20 * 60_000);

afterAll(async () => {
  if (ns) {
    await kubectl(['delete', 'deployment', '--all', '-n', ns.name, '--wait=true', '--timeout=60s'], { allowFailure: true });
    await kubectl(['delete', 'pods', '--all', '-n', ns.name, '--wait=true', '--timeout=60s'], { allowFailure: true });
    // The operator releases the partition's slices before it lets the partition go.
    await kubectl(['delete', 'gpupartition', '--all', '-n', ns.name, '--wait=true', '--timeout=60s'], { allowFailure: true });
  }
  await manager?.stop();
  await ns?.cleanup();
}, 3 * 60_000);

const partition = () => client.get<GpuPartition>(RESOURCES.gpuPartition, 'serve', ns!.name);
const replicas = async (): Promise<PodView[]> =>
  JSON.parse(await kubectl(['get', 'pods', '-n', ns!.name, '-l', 'app=serve', '-o', 'json'])).items.filter((p: PodView & { metadata: { deletionTimestamp?: string } }) => !p.metadata.deletionTimestamp);

/** The MIG device each running replica printed, by pod name. */
async function devicesByPod(): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const pod of (await replicas()).filter((p) => p.status.phase === 'Running')) {
    const visible = envFromLogs(await podLogs(ns!.name, pod.metadata.name, 'server')).NVIDIA_VISIBLE_DEVICES;
    if (visible) out.set(pod.metadata.name, visible);
  }
  return out;
}

describe('elastic partition on a real kubelet', () => {
  it('scaling the Deployment 1 → 3 gives each new replica its own MIG UUID; back to 1 keeps the one in use', async () => {
    await withDiagnostics('elastic serving', [ns!.name], async () => {
      await client.create(RESOURCES.gpuPartition, {
        apiVersion: 'gpu.haein.dev/v1alpha1',
        kind: 'GpuPartition',
        metadata: { name: 'serve', namespace: ns!.name },
        spec: { profile: '3g.90gb', count: 1, nodeSelector: { 'kubernetes.io/hostname': env.nodeName }, autoscale: { min: 1, max: 3, scaleDownDelaySeconds: DELAY_S } },
      });
      await kubectl(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'apps/v1',
          kind: 'Deployment',
          metadata: { name: 'serve', namespace: ns!.name },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: 'serve' } },
            template: {
              metadata: { labels: { app: 'serve', [PARTITION_LABEL]: 'serve' } },
              spec: {
                schedulingGates: [{ name: PARTITION_GATE }],
                terminationGracePeriodSeconds: 1,
                containers: [
                  {
                    name: 'server',
                    image: env.busyboxImage,
                    // Local images only: there is no registry to pull from.
                    imagePullPolicy: 'Never',
                    command: ['sh', '-c', 'echo "NVIDIA_VISIBLE_DEVICES=$NVIDIA_VISIBLE_DEVICES"; sleep 3600'],
                    resources: { limits: { [RES]: '1' } },
                  },
                ],
              },
            },
          },
        }),
      });
      const first = await eventually(async () => ((await devicesByPod()).size === 1 ? devicesByPod() : undefined), { timeoutMs: 180_000, what: 'first replica running with its MIG device' });

      await kubectl(['-n', ns!.name, 'scale', 'deployment/serve', '--replicas=3']);
      const devices = await eventually(async () => {
        const d = await devicesByPod();
        return d.size === 3 ? d : undefined;
      }, { timeoutMs: 180_000, what: 'three replicas running, each with its MIG device' });
      console.log(`replicas and their MIG devices: ${JSON.stringify(Object.fromEntries(devices))}`);
      const uuids = [...devices.values()];
      expect(new Set(uuids).size).toBe(3);
      for (const u of uuids) expect(u).toMatch(/^MIG-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      // The first replica kept its device.
      const [firstPod, firstUuid] = [...first.entries()][0]!;
      expect(devices.get(firstPod)).toBe(firstUuid);
      // Each device is one of the partition's slices, and the node reports it held by that very pod.
      const p = (await partition())!;
      expect(p.spec.count).toBe(3);
      expect(p.status?.allocations?.map((a) => a.uuid).sort()).toEqual([...uuids].sort());
      const held = await eventually(async () => {
        const node = await client.get<GpuNode>(RESOURCES.gpuNode, env.nodeName);
        const slices = (node?.status?.gpus ?? []).flatMap((g) => g.slices);
        return [...devices].every(([pod, uuid]) => slices.some((s) => s.uuid === uuid && s.inUse && s.pod?.name === pod)) ? slices : undefined;
      }, { timeoutMs: 60_000, what: 'each device reported in use by its replica' });
      expect(held.filter((s) => s.inUse && s.pod?.namespace === ns!.name)).toHaveLength(3);

      // Back to one replica: after the delay the two idle slices go, the held one stays.
      await kubectl(['-n', ns!.name, 'scale', 'deployment/serve', '--replicas=1']);
      const left = await eventually(async () => {
        const d = await devicesByPod();
        return (await replicas()).length === 1 && d.size === 1 ? d : undefined;
      }, { timeoutMs: 120_000, what: 'one replica left' });
      // The status may first name the slot count 1 keeps, then the slice in use once the surplus is released and
      // the kept slice renumbered: wait for the status that lists exactly one allocation, then compare.
      const shrunk = await eventually(async () => {
        const x = await partition();
        const released = !/releasing/.test(x?.status?.conditions?.find((c) => c.type === 'Allocated')?.message ?? '');
        return x?.spec.count === 1 && x.status?.replicas === 1 && x.status.allocations?.length === 1 && released ? x : undefined;
      }, { timeoutMs: 120_000, what: 'partition back to 1 slice, the surplus released' });
      expect(shrunk.status?.allocations?.[0]?.uuid).toBe([...left.values()][0]);
    });
  }, 8 * 60_000);
});
