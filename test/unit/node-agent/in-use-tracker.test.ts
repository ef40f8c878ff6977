import { InUseTracker } from '../../../src/node-agent/in-use-tracker.js';

describe('InUseTracker', () => {
  it('counts an allocation as held until PodResources takes over or the grace period ends', () => {
    let now = 0;
    const t = new InUseTracker(1000, () => now);
    t.allocated(['a']);
    t.observe(new Set(['b']));
    expect([...t.held()].sort()).toEqual(['a', 'b']);
    now = 1500;
    expect([...t.held()]).toEqual(['b']);
  });

  it('lets PodResources release a device it once reported', () => {
    let now = 0;
    const t = new InUseTracker(1000, () => now);
    t.allocated(['a']);
    t.observe(new Set(['a']));
    now = 10;
    t.observe(new Set());
    expect(t.held().size).toBe(0);
  });
});
