import { describe, expect, it } from '@jest/globals';
import { writeRows, writerOf, writesByWriter } from './api-writes.js';
import type { Sample } from './prom-text.js';

const req = (verb: string, resource: string, value: number, extra: Record<string, string> = {}): Sample => ({
  name: 'apiserver_request_total',
  labels: { verb, resource, group: '', subresource: '', code: '200', ...extra },
  value,
});

describe('API write accounting', () => {
  it('keeps write verbs only, merges codes, counts 409s and sorts by count', () => {
    const rows = writeRows([
      req('GET', 'pods', 500),
      req('WATCH', 'pods', 3),
      req('PUT', 'gpunodes', 7, { group: 'gpu.haein.dev' }),
      req('PUT', 'gpunodes', 3, { group: 'gpu.haein.dev', code: '409' }),
      req('PATCH', 'gpunodes', 4, { group: 'gpu.haein.dev', subresource: 'status' }),
      req('POST', 'pods', 0),
      { name: 'other_total', labels: { verb: 'POST' }, value: 9 },
    ]);
    expect(rows.map((r) => [r.verb, r.resource, r.count, r.conflicts, r.writer])).toEqual([
      ['PUT', 'gpunodes.gpu.haein.dev', 10, 3, 'operator'],
      ['PATCH', 'gpunodes.gpu.haein.dev/status', 4, 0, 'agent'],
    ]);
    expect(writesByWriter(rows)).toEqual({ operator: 10, agent: 4 });
  });

  it('attributes each kind of write to the component that makes it here', () => {
    expect(writerOf('POST', 'gpu.haein.dev', 'gpupartitions', '')).toBe('bench');
    expect(writerOf('PATCH', 'gpu.haein.dev', 'gpupartitions', '')).toBe('operator');
    expect(writerOf('PUT', 'gpu.haein.dev', 'trainingjobs', 'status')).toBe('operator');
    expect(writerOf('POST', 'gpu.haein.dev', 'gpunodes', '')).toBe('agent');
    expect(writerOf('POST', '', 'pods', 'binding')).toBe('scheduler');
    expect(writerOf('POST', '', 'pods', '')).toBe('operator');
    expect(writerOf('PATCH', '', 'nodes', '')).toBe('agent');
    expect(writerOf('PUT', 'coordination.k8s.io', 'leases', '')).toBe('control plane');
  });
});
