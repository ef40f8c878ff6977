import { place } from '../../../src/placement/engine.js';
import type { ClusterSnapshot, PlacementRequest } from '../../../src/placement/types.js';
import { cluster, node } from './fixtures.js';

const c = cluster(node('a', 2), node('b', 2));

describe('bad input gives a typed failure', () => {
  it.each<[string, PlacementRequest, string, RegExp]>([
    ['no members', { id: 'r', members: [] }, 'InvalidRequest', /at least one member/],
    ['zero GPUs', { id: 'r', members: [{ kind: 'whole', key: 'w', gpus: 0 }] }, 'InvalidRequest', /gpus must be a positive integer/],
    ['negative memory', { id: 'r', members: [{ kind: 'slice', key: 's', memoryMiB: -1 }] }, 'InvalidRequest', /memoryMiB must be a positive number/],
    ['8 compute slices', { id: 'r', members: [{ kind: 'slice', key: 's', computeSlices: 8 }] }, 'InvalidRequest', /computeSlices must be an integer from 1 to 7/],
    ['profile and needs', { id: 'r', members: [{ kind: 'slice', key: 's', profile: '1g.23gb', memoryMiB: 1 }] }, 'InvalidRequest', /not both/],
    ['neither', { id: 'r', members: [{ kind: 'slice', key: 's' }] }, 'InvalidRequest', /needs a profile or memoryMiB/],
    ['duplicate keys', { id: 'r', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }, { kind: 'slice', key: 's', profile: '1g.23gb' }] }, 'InvalidRequest', /duplicate key s/],
    ['unknown topology', { id: 'r', topology: 'ring' as never, members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }] }, 'InvalidRequest', /unknown topology/],
    ['unknown profile', { id: 'r', members: [{ kind: 'slice', key: 's', profile: '1g.10gb' }] }, 'UnknownProfile', /1g.10gb is not offered by NVIDIA-B200/],
    ['needs too large', { id: 'r', members: [{ kind: 'slice', key: 's', memoryMiB: 10_000_000 }] }, 'UnknownProfile', /no MIG profile of NVIDIA-B200 provides 10000000 MiB/],
    ['gang larger than the cluster', { id: 'r', members: [{ kind: 'whole', key: 'a', gpus: 2 }, { kind: 'whole', key: 'b', gpus: 2 }, { kind: 'whole', key: 'c', gpus: 1 }] }, 'InvalidRequest', /needs 5 whole GPUs but the eligible nodes have 4/],
    ['member larger than any node', { id: 'r', members: [{ kind: 'whole', key: 'a', gpus: 3 }] }, 'InvalidRequest', /largest eligible node has 2/],
    ['spread over too few nodes', { id: 'r', topology: 'spread', members: ['a', 'b', 'c'].map((key) => ({ kind: 'slice' as const, key, profile: '1g.23gb' })) }, 'InvalidRequest', /spread needs 3 distinct nodes but only 2/],
    ['sameNode beyond a node', { id: 'r', topology: 'sameNode', members: [{ kind: 'whole', key: 'a', gpus: 2 }, { kind: 'whole', key: 'b', gpus: 1 }] }, 'InvalidRequest', /sameNode needs 3 whole GPUs on one node/],
    ['selector matching nothing', { id: 'r', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }], constraints: { nodeSelector: { pool: 'none' } } }, 'NoMatchingNodes', /nodeSelector pool=none/],
    ['no MIG model among the products', { id: 'r', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }], constraints: { products: ['NVIDIA-L40S'] } }, 'NoMatchingNodes', /no schedulable node matching products NVIDIA-L40S/],
  ])('%s', (_name, request, code, message) => {
    const r = place(c, request);
    expect(r).toMatchObject({ ok: false, code });
    expect(!r.ok && r.message).toMatch(message);
  });

  it('never throws on a malformed snapshot or request', () => {
    expect(place({} as ClusterSnapshot, { id: 'r', members: [{ kind: 'slice', key: 's', profile: '1g.23gb' }] })).toMatchObject({ ok: false, code: 'InvalidRequest' });
    expect(place(c, null as unknown as PlacementRequest)).toMatchObject({ ok: false, code: 'InvalidRequest' });
    expect(place(c, { id: 'r', members: [null as never] })).toMatchObject({ ok: false, code: 'InvalidRequest' });
  });
});
