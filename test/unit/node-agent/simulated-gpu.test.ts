import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { journalPath, SimulatedNode } from '../../../src/node-agent/simulated-gpu.js';
import { modelForProduct } from '../../../src/placement/catalog.js';

const b200 = modelForProduct('NVIDIA-B200')!;

describe('SimulatedNode', () => {
  let dir: string;
  let stateFile: string;
  const errors: string[] = [];
  const log = { error: (m: string) => errors.push(m), warn: () => undefined, info: () => undefined, debug: () => undefined };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'haein-sim-'));
    stateFile = join(dir, 'state', 'gpus.json');
    errors.length = 0;
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  const open = (node = 'node-a', gpuCount = 8) =>
    SimulatedNode.open({ node, model: b200, gpuCount, stateFile, reconfigureDelayMs: 1, log });

  it('starts with N healthy whole-mode GPUs whose UUIDs depend only on node and index', async () => {
    const { sim, recovery } = await open();
    expect(recovery.state).toBe('fresh');
    const gpus = sim.gpus();
    expect(gpus).toHaveLength(8);
    expect(gpus.every((g) => g.mode === 'whole' && g.health === 'Healthy')).toBe(true);
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    expect(gpus[0].uuid).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    const other = await SimulatedNode.open({ node: 'node-b', model: b200, gpuCount: 8 });
    expect(other.sim.gpus()[0].uuid).not.toBe(gpus[0].uuid);
  });

  it('persists layout and health across a restart', async () => {
    const { sim } = await open();
    await sim.apply({ kind: 'setMode', gpu: 2, mode: 'mig' });
    await sim.apply({ kind: 'create', gpu: 2, profile: '3g.90gb', start: 4 });
    await sim.setHealth(5, 'Unhealthy');
    const before = sim.gpus();
    expect(before[2].slices[0].uuid).toMatch(/^MIG-/);
    const again = await open();
    expect(again.recovery.state).toBe('loaded');
    expect(again.sim.gpus()).toEqual(before);
    expect((await readdir(join(dir, 'state'))).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('refuses impossible steps', async () => {
    const { sim } = await open();
    await expect(sim.apply({ kind: 'create', gpu: 0, profile: '1g.23gb', start: 0 })).rejects.toThrow(/not in MIG mode/);
    await sim.apply({ kind: 'setMode', gpu: 0, mode: 'mig' });
    await sim.apply({ kind: 'create', gpu: 0, profile: '4g.90gb', start: 0 });
    await expect(sim.apply({ kind: 'create', gpu: 0, profile: '1g.23gb', start: 1 })).rejects.toThrow(/overlaps/);
    const slice = sim.gpus()[0].slices[0];
    await sim.setHeld([slice.uuid]);
    await expect(sim.apply({ kind: 'destroy', gpu: 0, profile: '4g.90gb', start: 0 })).rejects.toThrow(/in use/);
    await expect(sim.apply({ kind: 'setMode', gpu: 0, mode: 'whole' })).rejects.toThrow(/not idle/);
  });

  it('tracks held devices, ignores unknown IDs and journals the record', async () => {
    const { sim } = await open();
    const changes: number[] = [];
    sim.onChange(() => changes.push(1));
    const uuid = sim.gpus()[3].uuid;
    expect(await sim.setHeld([uuid, 'GPU-unknown'])).toBe(true);
    expect(await sim.setHeld([uuid])).toBe(false);
    expect(sim.currentLayout()[3].inUse).toBe(true);
    expect(changes).toHaveLength(1);
    const journal = JSON.parse(await readFile(journalPath(stateFile), 'utf8'));
    expect(journal.held).toEqual([{ deviceId: uuid, gpu: 3 }]);
  });

  it('moves a corrupt state file aside, starts safely and rebuilds the in-use slices from the journal', async () => {
    const { sim } = await open();
    await sim.apply({ kind: 'setMode', gpu: 1, mode: 'mig' });
    await sim.apply({ kind: 'create', gpu: 1, profile: '2g.45gb', start: 2 });
    await sim.apply({ kind: 'create', gpu: 1, profile: '1g.23gb', start: 6 });
    const held = sim.gpus()[1].slices.find((s) => s.profile === '2g.45gb')!;
    await sim.setHeld([held.uuid]);

    await writeFile(stateFile, '{"version":1,"node":"node-a","gpus":[{"index":0,');
    const { sim: recovered, recovery } = await open();
    expect(recovery.state).toBe('recovered');
    expect(recovery.restoredSlices).toBe(1);
    expect(errors.join('\n')).toMatch(/state file is unusable/);
    expect(recovery.movedAside).toHaveLength(1);
    expect(existsSync(recovery.movedAside[0])).toBe(true);
    expect(await readFile(recovery.movedAside[0], 'utf8')).toContain('"gpus":[{"index":0,');

    const gpu1 = recovered.gpus()[1];
    expect(gpu1.mode).toBe('mig');
    expect(gpu1.slices).toEqual([held]);
    expect(recovered.currentLayout()[1].slices[0].inUse).toBe(true);
    // The rewritten state file is valid again.
    expect((await open()).recovery.state).toBe('loaded');
  });

  it('treats a state file for another GPU count as unusable rather than trusting it', async () => {
    await open('node-a', 8);
    const { sim, recovery } = await open('node-a', 4);
    expect(recovery.state).toBe('recovered');
    expect(sim.gpus()).toHaveLength(4);
  });

  it('survives a corrupt journal by moving it aside', async () => {
    await open();
    await writeFile(journalPath(stateFile), 'not json');
    const { sim, recovery } = await open();
    expect(recovery.journal).toBe('recovered');
    expect(sim.heldDeviceIds().size).toBe(0);
    expect(errors.join('\n')).toMatch(/journal is corrupt/);
  });
});
