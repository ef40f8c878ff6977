import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import yaml from 'js-yaml';
import { DefragMetrics } from '../../../src/scheduler/defrag/defrag-metrics.js';
import { PANELS, exposedMetricNames, metricNamesIn, operatorDashboard, operatorDashboardJson } from '../../../src/dashboards/operator-dashboard.js';
import { OperatorMetrics } from '../../../src/runtime/metrics.js';
import { MeteringMetrics } from '../../../src/tenancy/metering/metering-metrics.js';
import { toolDir } from '../../support/cluster.js';
import { ROOT } from '../crds/crd-schema.js';

const JSON_PATH = join(ROOT, 'charts', 'haein', 'dashboards', 'haein-operator.json');

test('the chart ships exactly what the builder makes (run npm run dashboards after changing it)', () => {
  expect(readFileSync(JSON_PATH, 'utf8')).toBe(operatorDashboardJson());
});

test('every query names only metrics the operator registers', async () => {
  // The operator's registry as the process builds it: OperatorMetrics plus the defragmentation counters.
  const metrics = new OperatorMetrics({ collectDefault: true });
  new DefragMetrics(metrics.registry);
  new MeteringMetrics(metrics.registry);
  const exposed = exposedMetricNames(await metrics.render());
  const queries = PANELS.flatMap((g) => g.panels.flatMap((p) => p.queries));
  expect(queries.length).toBeGreaterThan(10);
  for (const q of queries) {
    const names = metricNamesIn(q.expr);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect({ query: q.expr, metric: n, exported: exposed.has(n) }).toEqual({ query: q.expr, metric: n, exported: true });
  }
});

test('panels: unique ids, a Prometheus datasource variable, no panel off the 24-column grid', () => {
  const d = operatorDashboard();
  const panels = (d.panels ?? []) as Array<{ id?: number; gridPos?: { x: number; w: number }; datasource?: { uid?: string } }>;
  const ids = panels.map((p) => p.id);
  expect(new Set(ids).size).toBe(ids.length);
  for (const p of panels) expect((p.gridPos?.x ?? 0) + (p.gridPos?.w ?? 0)).toBeLessThanOrEqual(24);
  expect(d.templating?.list?.[0]).toMatchObject({ type: 'datasource', name: 'datasource', query: 'prometheus' });
});

test('metric name helpers', () => {
  expect(metricNamesIn('histogram_quantile(0.5, sum by (le) (rate(haein_x_seconds_bucket[5m]))) / haein_y')).toEqual(['haein_x_seconds_bucket', 'haein_y']);
  const names = exposedMetricNames('# HELP a_seconds x\n# TYPE a_seconds histogram\n# TYPE b gauge\nb{x="1"} 2\nc 3\n');
  expect([...names].sort()).toEqual(['a_seconds', 'a_seconds_bucket', 'a_seconds_count', 'a_seconds_sum', 'b', 'c']);
});

test('the chart renders the dashboard ConfigMap for the Grafana sidecar, and can leave it out', async () => {
  const helm = join(await toolDir(), 'helm');
  const run = promisify(execFile);
  const { stdout } = await run(helm, ['template', 'haein', join(ROOT, 'charts', 'haein'), '-n', 'haein-system', '--show-only', 'templates/grafana-dashboard.yaml', '--set', 'grafana.dashboard.folder=GPU']);
  const cm = yaml.load(stdout) as { metadata: { labels: Record<string, string>; annotations: Record<string, string> }; data: Record<string, string> };
  expect(cm.metadata.labels.grafana_dashboard).toBe('1');
  expect(cm.metadata.annotations.grafana_folder).toBe('GPU');
  expect(JSON.parse(cm.data['haein-operator.json'] as string)).toEqual(JSON.parse(readFileSync(JSON_PATH, 'utf8')));
  const off = await run(helm, ['template', 'haein', join(ROOT, 'charts', 'haein'), '--set', 'grafana.dashboard.enabled=false']);
  expect(off.stdout).not.toContain('grafana_dashboard');
});
