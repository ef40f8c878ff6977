/**
 * The cycle planner's use of defragmentation (with a stand-in defragmenter that moves one claim by hand): it is
 * asked only for requests that fail for capacity, the request is placed on the freed capacity, a later demand of
 * a moved claimant finds its claim where it moved, a placement that still fails after the moves abandons them
 * and throws, and a refused defragmentation leaves the request waiting with the engine's reason.
 * Found by mutation testing (docs/reliability.md, "Ledger part, narrowed runs").
 */
import type { ClaimRef, GpuNode, GpuPartition } from '../../../src/api/types.js';
import { claimKey, ledgerEntries } from '../../../src/ledger/claims.js';
import type { LedgerDraft } from '../../../src/ledger/ledger-draft.js';
import { planCycle, type PlannerDeps } from '../../../src/scheduler/cycle-planner.js';
import type { AppliedDefrag, DefragOutcome } from '../../../src/scheduler/defrag/defragmenter.js';
import { partitionDemand } from '../../../src/scheduler/demand.js';
import type { PlacementRequest } from '../../../src/placement/types.js';
import { makeGpuNode, makeNode, makePartition } from '../support/builders.js';

const m: ClaimRef = { kind: 'GpuPartition', namespace: 'ns', name: 'm', uid: 'uid-m', slot: 0, priority: 0, preemptible: false };

function partition(name: string, spec: Partial<GpuPartition['spec']> = {}): GpuPartition {
  const p = makePartition(name, 'ns', { profile: '7g.180gb', ...spec });
  p.metadata = { name, namespace: 'ns', uid: `uid-${name}`, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' };
  return p;
}
const hold = (p: GpuPartition) => partitionDemand(p, { release: false, inUse: false });

/** n1 (pool x): its one GPU held by m; n2 (pool y): one free GPU. */
function ledger(): GpuNode[] {
  const n1 = makeGpuNode('n1', { gpus: 1 });
  n1.spec = { gpus: [{ index: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, claim: m }] }] };
  return [n1, makeGpuNode('n2', { gpus: 1 })];
}
const nodeOf = (n: string) => makeNode(n, { pool: n === 'n1' ? 'x' : 'y' });

const applied = (requestId: string): AppliedDefrag => ({
  moves: [{ action: 'move', holderKey: claimKey(m), node: 'n1', gpuIndex: 0, profile: '7g.180gb', start: 0, to: { node: 'n2', gpuIndex: 0, start: 0 } }],
  moved: [{ claim: m, profile: '7g.180gb', from: { node: 'n1', gpuIndex: 0, start: 0 }, to: { node: 'n2', gpuIndex: 0, start: 0 } }],
  preempted: [],
  summary: 'moved m',
  requestId,
  priority: 0,
});

/** A defragmenter that moves m from n1 to n2 (or, `move: false`, says it did without moving anything). */
function standIn(opts: { move?: boolean; ok?: boolean } = {}) {
  const asked: string[] = [];
  const abandoned: AppliedDefrag[] = [];
  const defrag: NonNullable<PlannerDeps['defrag']> = {
    prepare(draft: LedgerDraft, request: PlacementRequest): DefragOutcome {
      asked.push(request.id);
      if (opts.ok === false) return { ok: false, result: 'none', reason: 'nothing to move' };
      if (opts.move !== false) {
        const holder = { key: claimKey(m), priority: 0, preemptible: false };
        draft.applyLayouts(
          [
            { node: 'n1', gpuIndex: 0, mode: 'mig', slices: [] },
            { node: 'n2', gpuIndex: 0, mode: 'mig', slices: [{ profile: '7g.180gb', start: 0, holder, inUse: false }] },
          ],
          (key) => (key === claimKey(m) ? m : undefined),
        );
      }
      return { ok: true, applied: applied(request.id) };
    },
    abandoned: (a) => abandoned.push(a),
  };
  return { defrag, asked, abandoned };
}

const run = (defrag: PlannerDeps['defrag'], demands = [hold(partition('x', { nodeSelector: { pool: 'x' } }))]) =>
  planCycle(ledger(), demands, { nodeOf, ...(defrag ? { defrag } : {}) }, { seq: 0, outOfTime: () => false });

test('a request that fails for capacity is placed on what defragmentation freed', () => {
  const s = standIn();
  const plan = run(s.defrag);
  expect(s.asked).toEqual(['GpuPartition/ns/x']);
  expect(plan.results[0]?.outcome).toMatchObject({ kind: 'placed', slots: [0], defrag: applied('GpuPartition/ns/x') });
  const where = ledgerEntries(plan.draft.nodes()).map((e) => `${e.claim.name}@${e.node}`).sort();
  expect(where).toEqual(['m@n2', 'x@n1']);
  expect(s.abandoned).toEqual([]);
});

test('a later demand of a moved claimant finds its claim where it moved', () => {
  const s = standIn();
  const plan = run(s.defrag, [hold(partition('x', { nodeSelector: { pool: 'x' } })), hold(partition('m'))]);
  expect(plan.results.map((r) => [r.demand.who.name, r.outcome.kind, r.gaveBack])).toEqual([
    ['x', 'placed', 0],
    ['m', 'satisfied', 0],
  ]);
});

test('without defragmentation, or when it is refused, the request waits for capacity', () => {
  expect(run(undefined).results[0]?.outcome).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
  const s = standIn({ ok: false });
  const plan = run(s.defrag);
  expect(s.asked).toHaveLength(1);
  expect(plan.results[0]?.outcome).toMatchObject({ kind: 'waiting', code: 'InsufficientCapacity' });
  expect(plan.results[0]?.outcome).not.toHaveProperty('defrag');
});

test('a request that cannot be fixed by capacity is not defragmented for', () => {
  const s = standIn();
  const plan = run(s.defrag, [hold(partition('x', { profile: '5g.999gb' }))]);
  expect(s.asked).toEqual([]);
  expect(plan.results[0]?.outcome).toMatchObject({ kind: 'waiting', code: 'UnknownProfile', permanent: true });
});

test('a placement that still fails after defragmentation abandons the moves and throws', () => {
  const s = standIn({ move: false });
  expect(() => run(s.defrag)).toThrow(/^GpuPartition\/ns\/x: placement after defragmentation failed: /);
  expect(s.abandoned).toEqual([applied('GpuPartition/ns/x')]);
});
