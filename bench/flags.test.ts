import { describe, expect, it } from '@jest/globals';
import { numberFlag } from './flags.js';

describe('numberFlag', () => {
  it('returns the default when absent and the number when within bounds', () => {
    expect(numberFlag('n', undefined, 7, { min: 1 }, 'usage')).toBe(7);
    expect(numberFlag('n', '3', 7, { min: 1 }, 'usage')).toBe(3);
    expect(numberFlag('x', '0.5', 1, { min: 0.1, max: 1, integer: false }, 'usage')).toBe(0.5);
  });

  it('names the flag, the bounds and shows the usage when the value is off', () => {
    expect(() => numberFlag('n', '0', 7, { min: 1 }, 'USAGE')).toThrow('--n=0: expected an integer ≥ 1\nUSAGE');
    expect(() => numberFlag('n', '1.5', 7, { min: 1 }, 'u')).toThrow(/--n=1.5: expected an integer/);
    expect(() => numberFlag('x', '2', 1, { min: 0, max: 1, integer: false }, 'u')).toThrow('--x=2: expected a number between 0 and 1\nu');
    expect(() => numberFlag('x', 'abc', 1, { min: 0, integer: false }, 'u')).toThrow(/--x=abc/);
    expect(() => numberFlag('x', 'Infinity', 1, { min: 0, integer: false }, 'u')).toThrow(/--x=Infinity/);
  });
});
