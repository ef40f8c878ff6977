/**
 * Claim identity in the allocation ledger: a claim names its claimant by kind, namespace and name (and the
 * object's uid), so two tenants' objects of the same name never match each other; and releasing a whole-GPU
 * claim frees the GPU for the next placement.
 */
import fc from 'fast-check';
import type { ClaimRef, GpuNode } from '../../../src/api/types.js';
import { claimKey, claimNames, claimsOf, holderKey, ledgerEntries, nodesWithClaimsOf, parseHolderKey, type ClaimantId } from '../../../src/ledger/claims.js';
import { LedgerDraft } from '../../../src/ledger/ledger-draft.js';
import { buildSnapshot } from '../../../src/ledger/snapshot.js';
import { place } from '../../../src/placement/engine.js';
import { runs } from '../../support/property-runs.js';
import { makeGpuNode, makeNode } from '../support/builders.js';

const claim = (kind: ClaimRef['kind'], namespace: string, name: string, slot = 0, uid = `${namespace}-${name}`): ClaimRef => ({
  kind,
  namespace,
  name,
  uid,
  slot,
  priority: 0,
  preemptible: false,
});

/** A node whose GPU 0 has team-a/nb's and team-b/nb's slices side by side, and GPUs 1 and 2 whole for each. */
function sharedNode(): GpuNode {
  const gn = makeGpuNode('n1', { gpus: 3 });
  gn.spec = {
    gpus: [
      {
        index: 0,
        mode: 'mig',
        slices: [
          { profile: '1g.23gb', start: 0, claim: claim('GpuPartition', 'team-a', 'nb') },
          { profile: '1g.23gb', start: 1, claim: claim('GpuPartition', 'team-b', 'nb') },
        ],
      },
      { index: 1, mode: 'whole', slices: [], claim: claim('TrainingJob', 'team-a', 'nb') },
      { index: 2, mode: 'whole', slices: [], claim: claim('TrainingJob', 'team-b', 'nb') },
    ],
  };
  return gn;
}

describe('claim identity across namespaces', () => {
  const a: ClaimantId = { kind: 'GpuPartition', namespace: 'team-a', name: 'nb' };
  const b: ClaimantId = { kind: 'GpuPartition', namespace: 'team-b', name: 'nb' };

  it('keys, matches and collects the claims of team-a/nb only', () => {
    expect(claimKey(claim('GpuPartition', 'team-a', 'nb'))).not.toBe(claimKey(claim('GpuPartition', 'team-b', 'nb')));
    expect(claimKey(claim('GpuPartition', 'team-a', 'nb'))).not.toBe(claimKey(claim('TrainingJob', 'team-a', 'nb')));
    expect(claimNames(claim('GpuPartition', 'team-b', 'nb'), a)).toBe(false);
    expect(claimNames(claim('TrainingJob', 'team-a', 'nb'), a)).toBe(false);
    expect(claimNames(claim('GpuPartition', 'team-a', 'nb', 3, 'other-uid'), a)).toBe(true);

    const nodes = [sharedNode()];
    const { current, stale } = claimsOf(nodes, a, 'team-a-nb');
    expect(current.map((e) => `${e.claim.namespace}/${e.gpuIndex}/${e.start}`)).toEqual(['team-a/0/0']);
    expect(stale).toEqual([]);
    // The other tenant's same-named claim is not "stale" for team-a/nb either.
    expect(claimsOf(nodes, a, 'a-new-uid').stale.map((e) => e.claim.namespace)).toEqual(['team-a']);
    expect(claimsOf(nodes, { kind: 'TrainingJob', namespace: 'team-b', name: 'nb' }, undefined).current.map((e) => e.gpuIndex)).toEqual([2]);
    expect(nodesWithClaimsOf(nodes, b)).toEqual(['n1']);
    expect(nodesWithClaimsOf(nodes, { kind: 'GpuPartition', namespace: 'team-c', name: 'nb' })).toEqual([]);
  });

  it('releasing team-a/nb (any uid) leaves every claim of team-b/nb in place', () => {
    const draft = new LedgerDraft([sharedNode()]);
    expect(draft.release((c) => claimNames(c, a))).toBe(1);
    expect(draft.release((c) => claimNames(c, { kind: 'TrainingJob', namespace: 'team-a', name: 'nb' }))).toBe(1);
    const left = ledgerEntries(draft.nodes()).map((e) => `${e.claim.kind}/${e.claim.namespace}/${e.claim.name}`);
    expect(left).toEqual(['GpuPartition/team-b/nb', 'TrainingJob/team-b/nb']);
  });

  it('releases a victim by its holder key only', () => {
    const draft = new LedgerDraft([sharedNode()]);
    draft.releaseVictims([{ holderKey: holderKey('GpuPartition', 'team-b', 'nb', 0), node: 'n1', gpuIndex: 0, profile: '1g.23gb', start: 1, priority: 0 }]);
    expect(ledgerEntries(draft.nodes()).map((e) => `${e.claim.namespace}/${e.gpuIndex}`)).toEqual(['team-a/0', 'team-a/1', 'team-b/2']);
  });

  it('tells apart claimants that differ in one part only', () => {
    const base = claim('GpuPartition', 'team-a', 'nb');
    expect(claimNames(base, { kind: 'GpuPartition', namespace: 'team-a', name: 'nb2' })).toBe(false);
    expect(claimNames(base, { kind: 'GpuPartition', namespace: 'team-b', name: 'nb' })).toBe(false);
    expect(claimNames(base, { kind: 'TrainingJob', namespace: 'team-a', name: 'nb' })).toBe(false);
    expect(claimNames(base, { kind: 'GpuPartition', namespace: 'team-a', name: 'nb' })).toBe(true);
  });

  it('lists ledger entries in node, GPU and start order whatever the order of the objects', () => {
    const n2 = sharedNode();
    n2.metadata.name = 'b-node';
    n2.spec!.gpus!.reverse();
    n2.spec!.gpus![2].slices.reverse();
    const n1 = makeGpuNode('a-node', { gpus: 12 });
    n1.spec = { gpus: [10, 2].map((index) => ({ index, mode: 'whole' as const, slices: [], claim: claim('TrainingJob', 'x', `j${index}`) })) };
    const bare = makeGpuNode('c-node');
    delete bare.spec;
    const where = ledgerEntries([n2, bare, n1]).map((e) => `${e.node}/${e.gpuIndex}/${e.start ?? '-'}`);
    expect(where).toEqual(['a-node/2/-', 'a-node/10/-', 'b-node/0/0', 'b-node/0/1', 'b-node/1/-', 'b-node/2/-']);
    const unnamed = sharedNode();
    delete unnamed.metadata.name;
    expect(new Set(ledgerEntries([unnamed]).map((e) => e.node))).toEqual(new Set(['']));
  });

  it('parses holder keys back into the claimant of every namespace, and refuses malformed ones', () => {
    expect(parseHolderKey(holderKey('TrainingJob', 'team-b', 'nb', 3))).toEqual({ kind: 'TrainingJob', namespace: 'team-b', name: 'nb', slot: 3 });
    // Partitions too: defragmentation moves only the slices whose holder key parses as a GpuPartition.
    expect(parseHolderKey(holderKey('GpuPartition', 'team-a', 'nb', 0))).toEqual({ kind: 'GpuPartition', namespace: 'team-a', name: 'nb', slot: 0 });
    for (const bad of ['GpuPartition/team-a/nb', 'Pod/team-a/nb/0', 'GpuPartition/team-a/nb/x', 'GpuPartition/team-a/nb/1.5', 'GpuPartition/a/b/c/0', 'GpuPartition/a/b/0/1']) {
      expect(parseHolderKey(bad)).toBeUndefined();
    }
  });

  it('in any ledger, releasing one claimant removes exactly its claims (property)', () => {
    const claimant = fc.record({
      kind: fc.constantFrom('GpuPartition' as const, 'TrainingJob' as const),
      namespace: fc.constantFrom('team-a', 'team-b', 'default'),
      name: fc.constantFrom('nb', 'train', 'x'),
    });
    const entry = fc.record({ who: claimant, slot: fc.integer({ min: 0, max: 2 }) });
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 14 }), claimant, (entries, victim) => {
        // Up to 7 slices on GPU 0, then whole GPUs: every entry is one claim.
        const gn = makeGpuNode('n', { gpus: 9 });
        const claims = entries.map((e) => claim(e.who.kind, e.who.namespace, e.who.name, e.slot));
        gn.spec = {
          gpus: [
            { index: 0, mode: 'mig', slices: claims.slice(0, 7).map((c, i) => ({ profile: '1g.23gb', start: i, claim: c })) },
            ...claims.slice(7).map((c, i) => ({ index: i + 1, mode: 'whole' as const, slices: [], claim: c })),
          ],
        };
        const draft = new LedgerDraft([gn]);
        // The oracle compares the three parts itself: the code under test must not judge its own answer.
        const named = (c: ClaimRef) => `${c.kind}|${c.namespace}|${c.name}` === `${victim.kind}|${victim.namespace}|${victim.name}`;
        const mine = claims.filter(named);
        expect(draft.release((c) => claimNames(c, victim))).toBe(mine.length);
        const keys = (cs: ClaimRef[]) => cs.map((c) => `${claimKey(c)}@${c.uid}`).sort();
        expect(keys(ledgerEntries(draft.nodes()).map((e) => e.claim))).toEqual(keys(claims.filter((c) => !named(c))));
        for (const c of claims) expect(claimNames(c, victim)).toBe(named(c));
        expect(claimsOf(draft.nodes(), victim, undefined).current).toEqual([]);
      }),
      { numRuns: runs(200), seed: 5 },
    );
  });
});

describe('releasing a whole-GPU claim in the ledger', () => {
  it('clears the claim, and the next placement can take the GPU whole or carve it', () => {
    const gn = makeGpuNode('n1', { gpus: 1, mode: 'whole' });
    gn.spec = { gpus: [{ index: 0, mode: 'whole', slices: [], claim: claim('TrainingJob', 'team-a', 'train') }] };
    const nodes = (n: string) => (n === 'n1' ? makeNode('n1') : undefined);
    const wantWhole = { id: 'next', members: [{ kind: 'whole' as const, key: 'TrainingJob/team-b/next/0', gpus: 1 }] };
    expect(place(buildSnapshot([gn], nodes), wantWhole).ok).toBe(false);

    const draft = new LedgerDraft([gn]);
    expect(draft.release((c) => claimNames(c, { kind: 'TrainingJob', namespace: 'team-a', name: 'train' }))).toBe(1);
    const [after] = draft.changed();
    expect(after.spec?.gpus?.[0]).toEqual({ index: 0, mode: 'whole', slices: [] });
    const snapshot = buildSnapshot(draft.nodes(), nodes);
    expect(snapshot.nodes[0].gpus[0].holder).toBeUndefined();
    expect(place(snapshot, wantWhole)).toMatchObject({ ok: true, assignments: [{ node: 'n1', gpuIndex: 0 }] });
    expect(place(snapshot, { id: 's', members: [{ kind: 'slice', key: 'GpuPartition/team-b/s/0', profile: '7g.180gb' }] }).ok).toBe(true);
  });
});
