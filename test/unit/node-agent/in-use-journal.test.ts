/**
 * The in-use journal under concurrent writers: Allocate calls arriving together (one pod asking for two
 * resources makes the kubelet call two plugins at once) and the PodResources poll all record held devices.
 * Every write must succeed and the journal must end up parsable and equal to what the agent holds.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InUseJournal } from '../../../src/node-agent/simulated-gpu-types.js';
import { journalPath, SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { writeJsonAtomic } from '../../../src/node-agent/state-file.js';
import { modelForProduct } from '../../../src/placement/catalog.js';
import { KubeletRig } from './kubelet-rig.js';

const MIG = 'nvidia.com/mig-1g.23gb';
const GPU = 'nvidia.com/gpu';

describe('in-use journal', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-journal-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('survives many concurrent atomic writes to one file: each succeeds, the file parses, no temporary file is left', async () => {
    const path = join(dir, 'j.json');
    // Values of different lengths: a torn or interleaved write would leave trailing bytes behind.
    const values = Array.from({ length: 40 }, (_, i) => ({ i, pad: 'x'.repeat((i * 37) % 500) }));
    await Promise.all(values.map((v) => writeJsonAtomic(path, v)));
    const parsed = JSON.parse(await readFile(path, 'utf8')) as { i: number };
    expect(values).toContainEqual(parsed);
    expect((await readdir(dir)).filter((f) => f !== 'j.json')).toEqual([]);
  });

  it('keeps the last of concurrent held-set changes of a simulated node on disk', async () => {
    const stateFile = join(dir, 'state.json');
    const { sim } = await SimulatedNode.open({ node: 'n', model: modelForProduct('NVIDIA-B200')!, gpuCount: 8, stateFile });
    const uuids = sim.gpus().map((g) => g.uuid);
    const sets = Array.from({ length: 30 }, (_, i) => uuids.filter((_, j) => (i >> (j % 5)) & 1));
    await Promise.all(sets.map((s) => sim.setHeld(s)));
    const journal = JSON.parse(await readFile(journalPath(stateFile), 'utf8')) as InUseJournal;
    expect(new Set(journal.held.map((h) => h.deviceId))).toEqual(sim.heldDeviceIds());
    expect(sim.heldDeviceIds()).toEqual(new Set(sets.at(-1)));
  });

  it('removes temporary files an interrupted write left behind when the node is opened', async () => {
    const stateFile = join(dir, 'state.json');
    await writeFile(`${stateFile}.tmp-1-1-dead`, '{"torn');
    await writeFile(`${journalPath(stateFile)}.tmp-1-2-beef`, '');
    await SimulatedNode.open({ node: 'n', model: modelForProduct('NVIDIA-B200')!, gpuCount: 1, stateFile });
    expect((await readdir(dir)).sort()).toEqual(['state.json', 'state.json.in-use']);
  });

  describe('behind the device plugins', () => {
    let rig: KubeletRig;
    const errors: string[] = [];
    const log = {
      error: (m: string, meta?: Record<string, unknown>) => errors.push(`${m} ${JSON.stringify(meta ?? {})}`),
      warn: () => undefined,
      info: () => undefined,
      debug: () => undefined,
    };

    beforeEach(async () => {
      errors.length = 0;
      // Half the board carved into 1g slices, the other half whole: pods can ask for both resources.
      const spec = {
        gpus: [0, 1, 2, 3].map((index) => ({ index, mode: 'mig', slices: [0, 1, 2, 3, 4, 5, 6].map((start) => ({ profile: '1g.23gb', start })) })),
      };
      rig = await new KubeletRig().start(dir, { spec, reconfigureDelayMs: 1, podResourcesIntervalMs: 5, log });
    });
    afterEach(() => rig.stop());

    it('records every device of pods allocated two resources at once, with no failed journal write', async () => {
      const { kubelet, podResources, sim, stateFile } = rig;
      const mig = await kubelet.waitForConnection(MIG);
      const gpu = await kubelet.waitForConnection(GPU);
      await mig.waitFor((c) => c.latest().length === 28);
      await gpu.waitFor((c) => c.latest().length === 4);
      const slices = mig.latest().map((d) => d.ID);
      const wholes = gpu.latest().map((d) => d.ID);

      // Four pods, each one slice + one whole GPU, admitted back to back while PodResources reports the earlier ones.
      for (let pod = 0; pod < 4; pod++) {
        await Promise.all([mig.allocate([[slices[pod]]]), gpu.allocate([[wholes[pod]]]), mig.allocate([[slices[pod + 10]]])]);
        podResources.hold(`default/p${pod}/main`, MIG, [slices[pod], slices[pod + 10]]);
        podResources.hold(`default/p${pod}/main`, GPU, [wholes[pod]]);
      }
      const expected = new Set([...slices.slice(0, 4), ...slices.slice(10, 14), ...wholes.slice(0, 4)]);
      const deadline = Date.now() + 5000;
      while (sim.heldDeviceIds().size !== expected.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      // Queued journal writes finish in their own time (longer on a loaded machine): wait for the journal to hold
      // every device, up to a deadline; what is checked below is what it holds then.
      const journalIds = async () => {
        try {
          return new Set((JSON.parse(await readFile(journalPath(stateFile), 'utf8')) as InUseJournal).held.map((h) => h.deviceId));
        } catch {
          return new Set<string>();
        }
      };
      while ((await journalIds()).size !== expected.size && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 50));

      expect(errors.filter((e) => /Recording allocation failed|journal/i.test(e))).toEqual([]);
      expect(sim.heldDeviceIds()).toEqual(expected);
      const journal = JSON.parse(await readFile(journalPath(stateFile), 'utf8')) as InUseJournal;
      expect(new Set(journal.held.map((h) => h.deviceId))).toEqual(expected);
      expect((await readdir(dir)).filter((f) => f.includes('.tmp'))).toEqual([]);
    });
  });
});
