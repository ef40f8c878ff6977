import { place } from '../../../src/placement/engine.js';
import type { PlacementRequest } from '../../../src/placement/types.js';
import { cluster, held, node } from './fixtures.js';

const want7g = (extra: Partial<PlacementRequest> = {}): PlacementRequest => ({
  id: 'hi',
  members: [{ kind: 'slice', key: 'big', profile: '7g.180gb' }],
  priority: 5,
  mayPreempt: true,
  ...extra,
});

describe('preemption', () => {
  it('names no victims unless the request may preempt', () => {
    const c = cluster(node('a', 1));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 6, 'low', { priority: 0 })];
    expect(place(c, want7g({ mayPreempt: false }))).toMatchObject({ ok: false, code: 'InsufficientCapacity' });
    const r = place(c, want7g());
    expect(r).toMatchObject({ ok: true, victims: [{ holderKey: 'low', node: 'a', gpuIndex: 0, profile: '1g.23gb', start: 6, priority: 0 }] });
  });

  it('picks the fewest victims, then the lowest priorities', () => {
    const c = cluster(node('a', 3));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'p0a', { priority: 0 }), held('1g.23gb', 6, 'p0b', { priority: 0 })];
    c.nodes[0].gpus[1].slices = [held('3g.90gb', 4, 'p2', { priority: 2 })];
    c.nodes[0].gpus[2].slices = [held('4g.90gb', 0, 'p1', { priority: 1 })];
    const r = place(c, want7g());
    expect(r.ok && r.victims.map((v) => v.holderKey)).toEqual(['p1']);
    expect(r.ok && r.assignments[0].gpuIndex).toBe(2);
  });

  it('never displaces non-preemptible, equal-priority or unclaimed in-use slices', () => {
    const c = cluster(node('a', 3));
    c.nodes[0].gpus[0].slices = [held('1g.23gb', 0, 'fixed', { priority: 0, preemptible: false })];
    c.nodes[0].gpus[1].slices = [held('1g.23gb', 0, 'peer', { priority: 5 })];
    c.nodes[0].gpus[2].slices = [{ profile: '1g.23gb', start: 0, inUse: true }];
    const r = place(c, want7g());
    expect(r).toMatchObject({ ok: false, code: 'InsufficientCapacity' });
    expect(!r.ok && r.message).toMatch(/even preempting lower-priority holders/);
  });

  it('prefers free room over preemption and preempts whole GPUs for whole members', () => {
    const c = cluster(node('a', 2));
    c.nodes[0].gpus[0] = { index: 0, mode: 'whole', healthy: true, slices: [], holder: { key: 'w-low', priority: 1, preemptible: true }, inUse: true };
    const r = place(c, want7g());
    expect(r).toMatchObject({ ok: true, victims: [] });
    const whole = place(c, { id: 'hi', priority: 5, mayPreempt: true, members: [{ kind: 'whole', key: 'w', gpus: 2 }] });
    expect(whole).toMatchObject({ ok: true, victims: [{ holderKey: 'w-low', gpuIndex: 0, priority: 1 }] });
  });
});
