import { parseOperatorArgs } from '../../../src/cmd/operator-flags.js';

test('--slice-map-port turns the slice map on; without it there is none', () => {
  expect(parseOperatorArgs([], {}).sliceMapPort).toBeUndefined();
  expect(parseOperatorArgs(['--slice-map-port=8090'], {}).sliceMapPort).toBe(8090);
  expect(parseOperatorArgs(['--slice-map-port', '0'], {}).sliceMapPort).toBe(0);
  expect(() => parseOperatorArgs(['--slice-map-port=http'], {})).toThrow('--slice-map-port=http: expected an integer between 0 and 65535');
});
