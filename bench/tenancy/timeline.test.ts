import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { Timeline } from './timeline.js';

describe('Timeline', () => {
  it('gives back the events due, earliest first, ties in insertion order, and keeps the rest', () => {
    const t = new Timeline<string>();
    t.push(5, 'e');
    t.push(1, 'a');
    t.push(3, 'c1');
    t.push(3, 'c2');
    t.push(9, 'z');
    expect(t.due(4)).toEqual(['a', 'c1', 'c2']);
    expect(t.size).toBe(2);
    expect(t.due(4)).toEqual([]);
    expect(t.due(100)).toEqual(['e', 'z']);
  });

  it('drains any sequence in stable time order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (times) => {
        const t = new Timeline<number>();
        times.forEach((at, i) => t.push(at, i));
        const expected = times.map((at, i) => ({ at, i })).sort((a, b) => a.at - b.at || a.i - b.i).map((x) => x.i);
        expect([...t.due(25), ...t.due(50)]).toEqual(expected);
      }),
    );
  });
});
