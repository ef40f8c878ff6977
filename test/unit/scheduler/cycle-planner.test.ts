/** Examples of one admission cycle's decisions that the property test does not single out. */
import type { ClaimRef, GpuNode } from '../../../src/api/types.js';
import { ledgerEntries } from '../../../src/ledger/claims.js';
import { planCycle } from '../../../src/scheduler/cycle-planner.js';
import { partitionDemand } from '../../../src/scheduler/demand.js';
import { makeGpuNode, makeNode, makePartition } from '../support/builders.js';

const claim = (kind: ClaimRef['kind'], namespace: string, name: string, slot = 0): ClaimRef => ({ kind, namespace, name, uid: `uid-${namespace}-${name}`, slot, priority: 0, preemptible: false });

function node(name: string, gpus: Array<{ slice?: ClaimRef; whole?: ClaimRef }>): GpuNode {
  const gn = makeGpuNode(name, { gpus: gpus.length });
  gn.spec = {
    gpus: gpus.map((g, index) =>
      g.whole ? { index, mode: 'whole' as const, slices: [], claim: g.whole } : { index, mode: 'mig' as const, slices: [{ profile: '7g.180gb', start: 0, claim: g.slice as ClaimRef }] },
    ),
  };
  return gn;
}

test('a release gives back the claimant\'s entries on every node, and nothing of claimants of the same name in another namespace or kind', () => {
  const ledger = [
    node('n1', [{ slice: claim('GpuPartition', 'a', 'x') }, { slice: claim('GpuPartition', 'b', 'x') }]),
    node('n2', [{ slice: claim('GpuPartition', 'a', 'x', 1) }, { whole: claim('TrainingJob', 'a', 'x') }]),
  ];
  const p = makePartition('x', 'a', { profile: '7g.180gb', count: 2 });
  p.metadata.uid = 'uid-a-x';
  const plan = planCycle(ledger, [partitionDemand(p, { release: true, inUse: false })], { nodeOf: (n) => makeNode(n) }, { seq: 0, outOfTime: () => false });
  expect(plan.results.map((r) => r.outcome)).toEqual([{ kind: 'released', count: 2 }]);
  expect(ledgerEntries(plan.draft.nodes()).map((e) => `${e.claim.kind}/${e.claim.namespace}/${e.claim.name}@${e.node}`)).toEqual(['GpuPartition/b/x@n1', 'TrainingJob/a/x@n2']);
});
