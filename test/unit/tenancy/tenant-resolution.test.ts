import type { GpuTenant } from '../../../src/api/types.js';
import { accountingProfile, gpuEquivalentsOf } from '../../../src/tenancy/gpu-equivalents.js';
import { TenantDirectory, selectorMatches } from '../../../src/tenancy/tenant-resolution.js';

const tenant = (name: string, spec: Partial<GpuTenant['spec']>): GpuTenant => ({ apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuTenant', metadata: { name }, spec: { nominal: 1, ...spec } });

describe('GPU-equivalents', () => {
  test.each([
    ['1g.23gb', 1 / 7],
    ['1g.23gb+me', 1 / 7],
    ['2g.45gb', 2 / 7],
    ['3g.90gb', 3 / 7],
    ['4g.90gb', 4 / 7],
    ['7g.180gb', 1],
    [undefined, 1],
  ])('%s counts %d', (profile, eq) => {
    expect(gpuEquivalentsOf(profile)).toBeCloseTo(eq, 12);
  });

  test('a +me slice is accounted as its base profile, a whole GPU as `whole`', () => {
    expect(accountingProfile('1g.23gb+me')).toBe('1g.23gb');
    expect(accountingProfile(undefined)).toBe('whole');
  });
});

describe('label selectors', () => {
  test.each([
    [{}, {}, true],
    [{ matchLabels: { team: 'a' } }, { team: 'a', x: 'y' }, true],
    [{ matchLabels: { team: 'a' } }, { team: 'b' }, false],
    [{ matchExpressions: [{ key: 'team', operator: 'In' as const, values: ['a', 'b'] }] }, { team: 'b' }, true],
    [{ matchExpressions: [{ key: 'team', operator: 'In' as const, values: ['a'] }] }, {}, false],
    [{ matchExpressions: [{ key: 'team', operator: 'NotIn' as const, values: ['a'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'team', operator: 'NotIn' as const, values: ['a'] }] }, { team: 'a' }, false],
    [{ matchExpressions: [{ key: 'gpu', operator: 'Exists' as const }] }, { gpu: '' }, true],
    [{ matchExpressions: [{ key: 'gpu', operator: 'DoesNotExist' as const }] }, { gpu: '' }, false],
  ])('%j on %j → %s', (sel, labels, want) => {
    expect(selectorMatches(sel, labels)).toBe(want);
  });
});

describe('TenantDirectory', () => {
  const tenants = [
    tenant('acme', { namespaces: ['acme-dev', 'shared'] }),
    tenant('globex', { namespaceSelector: { matchLabels: { org: 'globex' } } }),
    tenant('initech', { namespaces: ['shared'] }),
  ];
  const dir = new TenantDirectory(tenants, [
    { name: 'acme-dev' },
    { name: 'globex-ml', labels: { org: 'globex' } },
    { name: 'shared' },
    { name: 'lonely' },
  ]);

  test('a namespace belongs to the tenant that lists it or selects it', () => {
    expect(dir.tenantOf('acme-dev')).toEqual({ kind: 'tenant', tenant: 'acme' });
    expect(dir.tenantOf('globex-ml')).toEqual({ kind: 'tenant', tenant: 'globex' });
    expect(dir.tenantOf('lonely')).toEqual({ kind: 'none' });
  });

  test('a namespace two tenants claim is a conflict, reported with both, never given to one', () => {
    expect(dir.tenantOf('shared')).toEqual({ kind: 'conflict', tenants: ['acme', 'initech'] });
    expect(dir.conflicts()).toEqual([{ namespace: 'shared', tenants: ['acme', 'initech'] }]);
    expect(dir.namespacesOf('acme')).toEqual(['acme-dev', 'shared']);
  });

  test('a listed namespace that does not exist yet is still resolved; a deleting tenant owns nothing', () => {
    const gone = tenant('gone', { namespaces: ['later'] });
    gone.metadata.deletionTimestamp = '2026-01-01T00:00:00Z';
    const d = new TenantDirectory([tenant('early', { namespaces: ['later'] }), gone], []);
    expect(d.tenantOf('later')).toEqual({ kind: 'tenant', tenant: 'early' });
  });
});
