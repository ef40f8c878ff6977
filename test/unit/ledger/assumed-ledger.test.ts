/**
 * The assumed ledger over a cache the test moves by hand: which version wins (uid, generation, a node gone),
 * which assumptions are kept, and the claimant index as nodes gain, lose and drop claims. (With the fake API
 * server and a lagging informer: ledger.test.ts.)
 */
import type { ClaimRef, GpuNode } from '../../../src/api/types.js';
import { AssumedLedger } from '../../../src/ledger/assumed-ledger.js';
import type { CachePort } from '../../../src/runtime/ports.js';
import { makeGpuNode } from '../support/builders.js';

/** A cache whose content the test sets. */
class HandCache implements CachePort<GpuNode> {
  readonly nodes = new Map<string, GpuNode>();
  get(name: string): GpuNode | undefined {
    return this.nodes.get(name);
  }
  list(): GpuNode[] {
    return [...this.nodes.values()];
  }
  put(node: GpuNode): GpuNode {
    this.nodes.set(node.metadata.name as string, node);
    return node;
  }
}

const claim = (kind: ClaimRef['kind'], namespace: string, name: string): ClaimRef => ({ kind, namespace, name, uid: `u-${namespace}-${name}`, slot: 0, priority: 0, preemptible: false });

/** Node `name`, uid `uid`, generation `generation`, with `claims` on GPU 0's slices (start = position). */
function version(name: string, uid: string, generation: number | undefined, ...claims: ClaimRef[]): GpuNode {
  const gn = makeGpuNode(name, { gpus: 1 });
  gn.metadata.uid = uid;
  if (generation !== undefined) gn.metadata.generation = generation;
  gn.spec = { gpus: [{ index: 0, mode: 'mig', slices: claims.map((c, start) => ({ profile: '1g.23gb', start, claim: c })) }] };
  return gn;
}

describe('AssumedLedger versions', () => {
  test('an assumed version is used while the cache is older, and dropped once the cache reaches its generation', () => {
    const cache = new HandCache();
    cache.put(version('n1', 'u1', 3));
    const ledger = new AssumedLedger(cache);
    const mine = version('n1', 'u1', 4);
    ledger.assume(mine);
    expect(ledger.get('n1')).toBe(mine);
    expect(ledger.list()).toEqual([mine]);
    expect(ledger.pending()).toEqual(['n1']);
    const caught = cache.put(version('n1', 'u1', 4));
    expect(ledger.get('n1')).toBe(caught);
    expect(ledger.pending()).toEqual([]);
    // Dropped for good: the cache going back (a relist from a lagging member) does not bring it back.
    const older = cache.put(version('n1', 'u1', 3));
    expect(ledger.get('n1')).toBe(older);
  });

  test('an assumed write response keeps no managedFields (the informer drops them too)', () => {
    const cache = new HandCache();
    cache.put(version('n1', 'u1', 3));
    const ledger = new AssumedLedger(cache);
    const written = version('n1', 'u1', 4, claim('GpuPartition', 'ns', 'a'));
    (written.metadata as { managedFields?: unknown[] }).managedFields = [{ manager: 'haein-operator', fieldsV1: { 'f:spec': {} } }];
    ledger.assume(written);
    expect(ledger.get('n1')?.metadata).not.toHaveProperty('managedFields');
    expect(ledger.get('n1')?.spec).toEqual(written.spec);
  });

  test('a cache showing the node re-created (another uid) or gone wins over the assumption', () => {
    const cache = new HandCache();
    cache.put(version('n1', 'u1', 3));
    cache.put(version('n2', 'u2', 3));
    const ledger = new AssumedLedger(cache);
    ledger.assume(version('n1', 'u1', 5));
    ledger.assume(version('n2', 'u2', 5));
    const recreated = cache.put(version('n1', 'u1-new', 1));
    cache.nodes.delete('n2');
    expect(ledger.get('n1')).toBe(recreated);
    expect(ledger.get('n2')).toBeUndefined();
    expect(ledger.pending()).toEqual([]);
  });

  test('an assumption at or below the cached generation of the same object, or without a name, is ignored; a node the cache lacks is not shown', () => {
    const cache = new HandCache();
    const cached = cache.put(version('n1', 'u1', 3));
    const ledger = new AssumedLedger(cache);
    ledger.assume(version('n1', 'u1', 3));
    expect(ledger.get('n1')).toBe(cached);
    expect(ledger.pending()).toEqual([]);
    ledger.assume(version('n1', 'u1', 2));
    expect(ledger.pending()).toEqual([]);
    const unnamed = version('x', 'ux', 9);
    delete unnamed.metadata.name;
    ledger.assume(unnamed);
    expect(ledger.pending()).toEqual([]);
    // A node the cache has not listed yet: assumed, but only a cached node is shown.
    ledger.assume(version('n9', 'u9', 1));
    expect(ledger.get('n9')).toBeUndefined();
  });

  test('a node without a generation counts as generation 0', () => {
    const cache = new HandCache();
    cache.put(version('n1', 'u1', undefined));
    const ledger = new AssumedLedger(cache);
    const mine = version('n1', 'u1', 1);
    ledger.assume(mine);
    expect(ledger.get('n1')).toBe(mine);
  });

  test('reset forgets every assumption and every spec sent', () => {
    const cache = new HandCache();
    cache.put(version('n1', 'u1', 1));
    const ledger = new AssumedLedger(cache);
    ledger.assume(version('n1', 'u1', 2));
    ledger.sending('n1', undefined);
    expect(ledger.ownSpec({ ...version('n1', 'u1', 2), spec: {} })).toBe(true);
    ledger.reset();
    expect(ledger.pending()).toEqual([]);
    expect(ledger.get('n1')?.metadata.generation).toBe(1);
    expect(ledger.ownSpec({ ...version('n1', 'u1', 2), spec: {} })).toBe(false);
    const unnamed = version('n1', 'u1', 2);
    delete unnamed.metadata.name;
    ledger.sending('n1', unnamed.spec);
    expect(ledger.ownSpec(unnamed)).toBe(false);
  });
});

describe('AssumedLedger claimant index', () => {
  test("finds a claimant's entries on every node in name order, never another namespace's or kind's of the same name", () => {
    const cache = new HandCache();
    const a = claim('GpuPartition', 'team-a', 'nb');
    cache.put(version('n2', 'u2', 1, a, claim('GpuPartition', 'team-b', 'nb')));
    cache.put(version('n1', 'u1', 1, claim('TrainingJob', 'team-a', 'nb'), a, claim('GpuPartition', 'team-a', 'other')));
    const ledger = new AssumedLedger(cache);
    expect(ledger.entriesOf(a).map((e) => `${e.node}/${e.start}`)).toEqual(['n1/1', 'n2/0']);
    expect(ledger.entriesOf(claim('TrainingJob', 'team-a', 'nb')).map((e) => `${e.node}/${e.start}`)).toEqual(['n1/0']);
    expect(ledger.entriesOf(claim('GpuPartition', 'team-c', 'nb'))).toEqual([]);
    expect(ledger.entries().map((e) => `${e.node}/${e.start}:${e.claim.namespace}/${e.claim.name}`)).toEqual(['n1/0:team-a/nb', 'n1/1:team-a/nb', 'n1/2:team-a/other', 'n2/0:team-a/nb', 'n2/1:team-b/nb']);
  });

  test('follows nodes that lose, gain and drop claims, and assumed writes', () => {
    const cache = new HandCache();
    const a = claim('GpuPartition', 'ns', 'a');
    const b = claim('GpuPartition', 'ns', 'b');
    cache.put(version('n1', 'u1', 1, a));
    cache.put(version('n2', 'u2', 1, a));
    const ledger = new AssumedLedger(cache);
    expect(ledger.entriesOf(a)).toHaveLength(2);
    // n1 gives a's slice to b (a write of this process, not yet in the cache).
    ledger.assume(version('n1', 'u1', 2, b));
    expect(ledger.entriesOf(a).map((e) => e.node)).toEqual(['n2']);
    expect(ledger.entriesOf(b).map((e) => e.node)).toEqual(['n1']);
    // n2 disappears: every view follows, whichever is asked first.
    cache.nodes.delete('n2');
    expect(ledger.entries().map((e) => e.claim.name)).toEqual(['b']);
    expect(ledger.entriesOf(a)).toEqual([]);
    // It comes back with a's claim: found again.
    cache.put(version('n2', 'u2b', 1, a));
    expect(ledger.entriesOf(a).map((e) => e.node)).toEqual(['n2']);
    expect(ledger.entriesOf(b).map((e) => e.node)).toEqual(['n1']);
  });

  test('a claimant on two nodes stays indexed on one when the other releases it', () => {
    const cache = new HandCache();
    const a = claim('TrainingJob', 'ns', 'gang');
    cache.put(version('n1', 'u1', 1, a, a));
    cache.put(version('n2', 'u2', 1, a));
    const ledger = new AssumedLedger(cache);
    expect(ledger.entriesOf(a)).toHaveLength(3);
    cache.put(version('n1', 'u1', 2));
    expect(ledger.entriesOf(a).map((e) => e.node)).toEqual(['n2']);
    cache.put(version('n2', 'u2', 2));
    expect(ledger.entriesOf(a)).toEqual([]);
    cache.put(version('n2', 'u2', 3, a));
    expect(ledger.entriesOf(a).map((e) => e.node)).toEqual(['n2']);
  });
});
