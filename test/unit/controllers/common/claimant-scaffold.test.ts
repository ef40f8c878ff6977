import { PARTITION_FINALIZER } from '../../../../src/api/constants.js';
import type { GpuNode, GpuPartition } from '../../../../src/api/types.js';
import { ClaimantScaffold } from '../../../../src/controllers/common/claimant-scaffold.js';
import { ledgerEntries } from '../../../../src/ledger/claims.js';
import { LedgerDraft, LedgerExpectations } from '../../../../src/ledger/ledger.js';
import { RESOURCES } from '../../../../src/k8s/resources.js';
import { makeGpuNode, makePartition } from '../../support/builders.js';
import { FakeClient, FakeRecorder, quietLog } from '../../support/fakes.js';
import { claimantCaches, partitionClaim, seedNodes } from '../../support/reconciler-fixtures.js';

const NS = 'team-a';

function setup() {
  const client = new FakeClient();
  seedNodes(client, [makeGpuNode('n1')]);
  const recorder = new FakeRecorder();
  const expectations = new LedgerExpectations();
  const s = new ClaimantScaffold<GpuPartition>({
    ...claimantCaches(client),
    client,
    recorder,
    expectations,
    place: () => ({ ok: false, code: 'InsufficientCapacity', message: 'never called here' }),
    kind: 'GpuPartition',
    resource: RESOURCES.gpuPartition,
    finalizer: PARTITION_FINALIZER,
  });
  const stored = (name: string) => client.store.get(client.key(RESOURCES.gpuPartition, name, NS)) as GpuPartition | undefined;
  return { client, recorder, s, stored };
}

describe('ClaimantScaffold', () => {
  test('adds the finalizer once, keeping the ones already there, and removes only its own', async () => {
    const t = setup();
    const base = makePartition('nb', NS, { profile: '1g.23gb' });
    base.metadata.finalizers = ['other/finalizer'];
    const p = t.client.seed(RESOURCES.gpuPartition, base);
    const withF = await t.s.ensureFinalizer(p);
    expect(withF.metadata.finalizers).toEqual(['other/finalizer', PARTITION_FINALIZER]);
    expect(t.s.hasFinalizer(withF)).toBe(true);
    const writes = t.client.writes.length;
    expect(await t.s.ensureFinalizer(withF)).toBe(withF);
    expect(t.client.writes.length).toBe(writes);
    await t.s.removeFinalizer(withF);
    expect(t.stored('nb')?.metadata.finalizers).toEqual(['other/finalizer']);
  });

  test('removing the finalizer of an object already gone is not an error', async () => {
    const t = setup();
    await expect(t.s.removeFinalizer(makePartition('gone', NS, { profile: '1g.23gb' }))).resolves.toBeUndefined();
  });

  test('writes status only when it changed, and reports an object deleted meanwhile as gone', async () => {
    const t = setup();
    const p = t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    expect(await t.s.writeStatus(p, { phase: 'Pending' }, {})).toBe('written');
    expect(t.stored('nb')?.status?.phase).toBe('Pending');
    const writes = t.client.writes.length;
    expect(await t.s.writeStatus(p, { phase: 'Pending' }, { phase: 'Pending' })).toBe('unchanged');
    expect(t.client.writes.length).toBe(writes);
    expect(await t.s.writeStatus(makePartition('gone', NS, {}), { phase: 'Pending' }, {})).toBe('gone');
  });

  test('commits a changed draft and returns the nodes written; an unchanged draft writes nothing', async () => {
    const t = setup();
    const p = t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    const nodes = () => t.client.all<GpuNode>(RESOURCES.gpuNode);
    expect(await t.s.commit(p, new LedgerDraft(nodes()), new Date(), undefined, quietLog)).toEqual([]);
    const draft = new LedgerDraft(nodes());
    draft.applyLayouts([{ node: 'n1', gpuIndex: 0, mode: 'mig', slices: [{ profile: '1g.23gb', start: 0, holder: { key: 'k', priority: 0, preemptible: false }, inUse: false }] }], () => partitionClaim(p));
    const written = await t.s.commit(p, draft, new Date(), undefined, quietLog);
    expect(written.map((n) => n.metadata.name)).toEqual(['n1']);
    expect(ledgerEntries(nodes()).map((e) => e.claim.name)).toEqual(['nb']);
  });

  test('releases every claim of the claimant with one Released Event, and nothing when it holds none', async () => {
    const t = setup();
    const p = t.client.seed(RESOURCES.gpuPartition, makePartition('nb', NS, { profile: '1g.23gb' }));
    const who = { kind: 'GpuPartition' as const, namespace: NS, name: 'nb' };
    expect(await t.s.releaseAll(p, who, new Date(), quietLog, (n) => `Released ${n}`, 'released')).toBe(0);
    expect(t.recorder.events).toHaveLength(0);
    t.client.edit<GpuNode>(RESOURCES.gpuNode, 'n1', undefined, (gn) => {
      gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: [0, 1].map((start) => ({ profile: '1g.23gb', start, claim: partitionClaim(p, start) })) }] };
    });
    expect(await t.s.releaseAll(p, who, new Date(), quietLog, (n) => `Released ${n}`, 'released')).toBe(2);
    expect(ledgerEntries(t.client.all<GpuNode>(RESOURCES.gpuNode))).toHaveLength(0);
    expect(t.recorder.events).toEqual([expect.objectContaining({ name: 'nb', type: 'Normal', reason: 'Released', message: 'Released 2' })]);
  });
});
