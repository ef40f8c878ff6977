import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GpuNode } from '../../../src/api/types.js';
import { RESOURCES } from '../../../src/k8s/client.js';
import type { FakeKubelet } from '../device-plugin/fake-kubelet.js';
import type { FakePodResources } from '../device-plugin/fake-pod-resources.js';
import type { FakeClient } from './fake-client.js';
import { KubeletRig } from './kubelet-rig.js';

const MIG = 'nvidia.com/mig-1g.23gb';

/** The agent wired to a fake API server, a fake kubelet (device manager + PodResources) and real gRPC. */
describe('node agent with its device plugins and a kubelet', () => {
  let dir: string;
  let rig: KubeletRig;
  let kubelet: FakeKubelet;
  let podResources: FakePodResources;
  let client: FakeClient;

  const condition = async (type: string) =>
    (await client.get<GpuNode>(RESOURCES.gpuNode, 'gpu-node'))!.status?.conditions?.find((c) => c.type === type);

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-ak-'));
    rig = await new KubeletRig().start(dir);
    ({ kubelet, podResources, client } = rig);
  });

  afterEach(async () => {
    await rig.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a new layout to the kubelet soon after the target is written, then guards the held slice', async () => {
    const gpus = await kubelet.waitForConnection('nvidia.com/gpu');
    await gpus.waitFor((c) => c.latest().length === 8);

    const written = Date.now();
    await client.mergePatch(RESOURCES.gpuNode, 'gpu-node', {
      spec: { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0 }, { profile: '1g.23gb', start: 1 }] }] },
    });
    const mig = await kubelet.waitForConnection(MIG, written);
    await mig.waitFor((c) => c.latest().length === 2);
    await gpus.waitFor((c) => c.latest().length === 7);
    const latencyMs = Math.max(mig.updates.at(-1)!.at, gpus.updates.at(-1)!.at) - written;
    console.log(`target layout written -> kubelet sees new devices: ${latencyMs} ms (3 steps × 50 ms simulated delay)`);
    expect(latencyMs).toBeLessThan(2000);

    // The kubelet allocates one slice to a container; PodResources reports it.
    const [first] = mig.latest();
    const res = await mig.allocate([[first.ID]]);
    expect(res.container_responses[0].envs.NVIDIA_VISIBLE_DEVICES).toBe(first.ID);
    podResources.hold('default/trainer/main', MIG, [first.ID]);
    await new Promise((r) => setTimeout(r, 200));

    await client.mergePatch(RESOURCES.gpuNode, 'gpu-node', { spec: { gpus: [{ index: 0, mode: 'whole', slices: [] }] } });
    const refused = Date.now();
    while ((await condition('LayoutRealised'))?.reason !== 'SliceInUse') {
      if (Date.now() - refused > 3000) throw new Error('no SliceInUse');
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(mig.latest()).toHaveLength(2);

    // The container ends: the pending target goes through and the MIG plugin retires.
    podResources.containers.clear();
    await mig.waitFor((c) => c.ended && c.updates.at(-1)!.devices.length === 0, 5000);
    await gpus.waitFor((c) => c.latest().length === 8);
    expect((await condition('LayoutRealised'))?.status).toBe('True');
  });
});
