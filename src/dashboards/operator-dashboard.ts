/**
 * The operator's Grafana dashboard, built with Grafana's typed builders (`@grafana/grafana-foundation-sdk`)
 * rather than written as JSON. Build-time only: `npm run dashboards` writes it into the chart
 * (charts/haein/dashboards/haein-operator.json), which ships it as a ConfigMap for Grafana's sidecar.
 * A panel is one entry of {@link PANELS}; every query may only name metrics the operator exports (checked
 * against `/metrics` by the tests).
 */
import * as common from '@grafana/grafana-foundation-sdk/common';
import { DashboardBuilder, DatasourceVariableBuilder, RowBuilder, type Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as StatPanelBuilder } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as TimeseriesPanelBuilder } from '@grafana/grafana-foundation-sdk/timeseries';

/** One query of a panel. */
export interface QuerySpec {
  expr: string;
  /** Series name; Grafana's `{{label}}` templates work. */
  legend?: string;
}

/** One panel. */
export interface PanelSpec {
  title: string;
  description: string;
  /** `timeseries` (default) or a single `stat`. */
  kind?: 'timeseries' | 'stat';
  /** Grafana unit, e.g. `s`, `percentunit`, `short`. */
  unit?: string;
  /** Stack the series (totals that add up). */
  stack?: boolean;
  /** Grid width out of 24; default 8. */
  width?: number;
  queries: QuerySpec[];
}

/** p50 and p95 of a histogram, one series each per `by` label. */
function quantiles(metric: string, by = ''): QuerySpec[] {
  const group = by ? `le, ${by}` : 'le';
  const suffix = by ? ` {{${by}}}` : '';
  return [0.5, 0.95].map((q) => ({
    expr: `histogram_quantile(${q}, sum by (${group}) (rate(${metric}_bucket[$__rate_interval])))`,
    legend: `p${q * 100}${suffix}`,
  }));
}

/**
 * The panels, by row. To add one, add a line. Tenant and metering figures are the same on every replica that
 * has them (the leader's quota gauges; every replica's counters follow the durable GpuUsage records), so they
 * are aggregated with `max`, never `sum`, across replicas.
 */
export const PANELS: Array<{ row: string; panels: PanelSpec[] }> = [
  {
    row: 'Capacity',
    panels: [
      { title: 'Slices allocated by profile', description: 'MIG slices reserved for GpuPartitions and TrainingJobs.', stack: true, queries: [{ expr: 'sum by (profile) (haein_slices_allocated)', legend: '{{profile}}' }] },
      { title: 'Slices free by profile', description: 'MIG slices carved but reserved for nobody.', stack: true, queries: [{ expr: 'sum by (profile) (haein_slices_free)', legend: '{{profile}}' }] },
      { title: 'Fragmentation', description: 'Share of free MIG memory stranded on partly used GPUs, per GPU model (0 = all free memory is on idle GPUs).', unit: 'percentunit', queries: [{ expr: 'max by (model) (haein_fragmentation_ratio)', legend: '{{model}}' }] },
    ],
  },
  {
    row: 'Requests',
    panels: [
      { title: 'Pending requests by reason', description: 'GpuPartitions and TrainingJobs waiting, by the reason the admission cycle gave them (also in their Allocated/Placed condition; kubectl haein why KIND/NAME).', stack: true, queries: [{ expr: 'sum by (kind, reason) (haein_pending_requests)', legend: '{{kind}} {{reason}}' }] },
      { title: 'Time to ready', description: 'From an object\'s creation to its first Ready (GpuPartition) or Running (TrainingJob): the SLO figure.', unit: 's', queries: quantiles('haein_time_to_ready_seconds', 'kind') },
      { title: 'Admission cycle duration', description: 'One admission cycle: planning, the ledger writes (one per touched node) and bookkeeping.', unit: 's', queries: quantiles('haein_admission_cycle_duration_seconds') },
      { title: 'Admission cycle batch', description: 'Requests decided per admission cycle.', queries: quantiles('haein_admission_cycle_batch_size') },
      { title: 'Admission queue', description: 'Requests ready for the next cycle, and parked until capacity or their spec changes.', stack: true, queries: [{ expr: 'sum by (state) (haein_admission_queue)', legend: '{{state}}' }] },
      { title: 'Capacity changes by source', description: 'Changes of what placement sees that wake parked requests, per second: outside changes of GpuNodes, Nodes (a Node going NotReady or Ready), tenants and namespaces; capacity a cycle gave back; refused ledger writes. A busy admission cycle with nothing new to place is explained here.', stack: true, queries: [{ expr: 'sum by (source) (rate(haein_admission_capacity_changes_total[$__rate_interval]))', legend: '{{source}}' }] },
      { title: 'Ledger writes by result', description: 'GpuNode ledger writes per second; a conflict is a write refused because another writer changed the node.', stack: true, queries: [{ expr: 'sum by (result) (rate(haein_ledger_writes_total[$__rate_interval]))', legend: '{{result}}' }] },
      { title: 'Reconfiguration latency', description: 'From writing a target layout to the node agent reporting it realised.', unit: 's', queries: quantiles('haein_reconfiguration_latency_seconds') },
      { title: 'Placement decision time', description: 'Time the placement engine takes for one decision.', unit: 's', queries: quantiles('haein_placement_decision_seconds', 'kind') },
      { title: 'Defragmentation moves', description: 'Idle slices moved, preempted or destroyed to make room, per second.', stack: true, queries: [{ expr: 'sum by (action) (rate(haein_defrag_moves_total[$__rate_interval]))', legend: '{{action}}' }] },
    ],
  },
  {
    row: 'Serving (elastic partitions)',
    panels: [
      { title: 'Consumer pods by partition', description: 'Live pods consuming each GpuPartition (gated or running). An elastic partition (spec.autoscale) keeps its count at this, within min and max.', queries: [{ expr: 'sum by (namespace, partition) (haein_partition_consumers)', legend: '{{namespace}}/{{partition}}' }] },
      { title: 'Slices held by partition', description: 'Slices each GpuPartition holds in the node ledger; above its consumers while idle slices wait for the scale-down delay.', queries: [{ expr: 'sum by (namespace, partition) (haein_partition_slices)', legend: '{{namespace}}/{{partition}}' }] },
      { title: 'New consumer pod to its slice', description: 'From a consumer pod\'s creation to its admission onto a realised, free slice; elastic="true": the partition may have had to grow and carve the slice first.', unit: 's', queries: quantiles('haein_consumer_wait_seconds', 'elastic') },
    ],
  },
  {
    row: 'Tenants',
    panels: [
      { title: 'GPU-equivalents used by tenant', description: 'What each GpuTenant holds now (a MIG slice counts compute slices / 7, a whole GPU 1).', stack: true, queries: [{ expr: 'max by (tenant) (haein_tenant_gpu_equivalents{quantity="used"})', legend: '{{tenant}}' }] },
      { title: 'Used against nominal', description: 'Each tenant\'s use as a share of its nominal quota: above 1 it borrows from its cohort (kubectl get gputenants).', unit: 'percentunit', queries: [{ expr: 'max by (tenant) (haein_tenant_gpu_equivalents{quantity="used"}) / max by (tenant) (haein_tenant_gpu_equivalents{quantity="nominal"} > 0)', legend: '{{tenant}}' }] },
      { title: 'Borrowed and lent', description: 'GPU-equivalents held above nominal (borrowed, reclaimable by lenders) and a tenant\'s unused nominal used by others (lent).', queries: [{ expr: 'max by (tenant) (haein_tenant_gpu_equivalents{quantity="borrowed"})', legend: '{{tenant}} borrowed' }, { expr: 'max by (tenant) (haein_tenant_gpu_equivalents{quantity="lent"})', legend: '{{tenant}} lent' }] },
      { title: 'Requests waiting by tenant', description: 'GpuPartitions and TrainingJobs of each tenant waiting to be placed (kubectl haein why KIND/NAME says why).', stack: true, queries: [{ expr: 'max by (tenant) (haein_tenant_waiting_requests)', legend: '{{tenant}}' }] },
      { title: 'Metered GPU-equivalents by tenant', description: 'Settled usage per second of time: the GPU-equivalents billed, from the durable metering counters (lags by the settlement interval).', stack: true, queries: [{ expr: 'max by (tenant) (sum without (namespace) (rate(haein_metered_gpu_equivalent_seconds_total[$__rate_interval])))', legend: '{{tenant}}' }] },
      { title: 'Metered slices by profile', description: 'Settled slice-seconds per second, by MIG profile (`whole` for whole GPUs): the slices billed, across tenants.', stack: true, queries: [{ expr: 'max by (profile) (sum without (tenant, namespace) (rate(haein_metered_slice_seconds_total[$__rate_interval])))', legend: '{{profile}}' }] },
      { title: 'Metering lag', description: 'How far behind now each tenant\'s usage is settled durably; grows without bound if settlement stops.', unit: 's', queries: [{ expr: 'time() - max by (tenant) (haein_metering_settled_through_timestamp_seconds)', legend: '{{tenant}}' }] },
      { title: 'Settlements by result', description: 'Metering settlements per second: ok, conflict (a guarded GpuUsage write refused and retried), error.', queries: [{ expr: 'sum by (result) (rate(haein_metering_settlements_total[$__rate_interval]))', legend: '{{result}}' }] },
    ],
  },
  {
    row: 'Operator health',
    panels: [
      { title: 'Leader', description: 'Replicas holding the leader Lease: should be exactly 1.', kind: 'stat', width: 4, queries: [{ expr: 'sum(haein_leader)' }] },
      { title: 'Reconcile errors', description: 'Failed reconcile passes per second (write conflicts are not errors).', width: 10, queries: [{ expr: 'sum by (controller) (rate(haein_reconcile_errors_total[$__rate_interval]))', legend: '{{controller}}' }] },
      { title: 'Reconciles by result', description: 'Reconcile passes per second by controller and result.', width: 10, queries: [{ expr: 'sum by (controller, result) (rate(haein_reconcile_total[$__rate_interval]))', legend: '{{controller}} {{result}}' }] },
      { title: 'Reconcile duration', description: 'Time per reconcile pass.', unit: 's', queries: quantiles('haein_reconcile_duration_seconds', 'controller') },
      { title: 'Work queue depth', description: 'Keys waiting in each controller work queue.', queries: [{ expr: 'sum by (controller) (haein_workqueue_depth)', legend: '{{controller}}' }] },
      { title: 'Informer restarts', description: 'List/watch restarts per resource and reason.', queries: [{ expr: 'sum by (resource, reason) (increase(haein_informer_restarts_total[$__rate_interval]))', legend: '{{resource}} {{reason}}' }] },
    ],
  },
];

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' };

function panel(p: PanelSpec, id: number, x: number, y: number) {
  const w = p.width ?? 8;
  const h = 8;
  const targets = p.queries.map((q, i) => {
    const b = new DataqueryBuilder().expr(q.expr).refId(String.fromCharCode(65 + i)).datasource(DATASOURCE);
    return q.legend ? b.legendFormat(q.legend) : b;
  });
  // What every panel kind shares; the builders of each kind have these methods alike.
  const base = <B extends StatPanelBuilder | TimeseriesPanelBuilder>(b: B): B =>
    b.id(id).title(p.title).description(p.description).datasource(DATASOURCE).targets(targets).unit(p.unit ?? 'short').gridPos({ x, y, w, h }) as B;
  if (p.kind === 'stat') {
    return base(new StatPanelBuilder()).graphMode(common.BigValueGraphMode.None).reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']));
  }
  const ts = base(new TimeseriesPanelBuilder())
    .min(0)
    .fillOpacity(p.stack ? 30 : 10)
    .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.List).placement(common.LegendPlacement.Bottom));
  return p.stack ? ts.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal)) : ts;
}

/** The dashboard. */
export function operatorDashboard(): Dashboard {
  const d = new DashboardBuilder('Haein operator')
    .uid('haein-operator')
    .tags(['haein', 'gpu', 'kubernetes'])
    .description('GPU slices, waiting requests, reconfiguration and the health of the Haein operator.')
    .refresh('30s')
    .time({ from: 'now-6h', to: 'now' })
    .timezone('browser')
    .withVariable(new DatasourceVariableBuilder('datasource').label('Prometheus').type('prometheus'));
  let y = 0;
  let id = 0;
  for (const group of PANELS) {
    d.withRow(new RowBuilder(group.row).id(++id).gridPos({ x: 0, y, w: 24, h: 1 }));
    y += 1;
    let x = 0;
    for (const p of group.panels) {
      const w = p.width ?? 8;
      if (x + w > 24) {
        x = 0;
        y += 8;
      }
      d.withPanel(panel(p, ++id, x, y));
      x += w;
    }
    y += 8;
  }
  return d.build();
}

/** The dashboard as the JSON file the chart ships. */
export function operatorDashboardJson(): string {
  return `${JSON.stringify(operatorDashboard(), null, 2)}\n`;
}

/** Metric names a PromQL expression reads (`haein_…`, with a histogram's `_bucket`/`_sum`/`_count`). */
export function metricNamesIn(expr: string): string[] {
  return [...new Set(expr.match(/\bhaein_[a-z0-9_]+\b/g) ?? [])];
}

/** Every series name a Prometheus text exposition offers (histograms and summaries with their suffixes). */
export function exposedMetricNames(promText: string): Set<string> {
  const out = new Set<string>();
  for (const line of promText.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)/.exec(line);
    if (type) {
      const [, name, kind] = type as unknown as [string, string, string];
      out.add(name);
      if (kind === 'histogram') for (const s of ['_bucket', '_sum', '_count']) out.add(`${name}${s}`);
      if (kind === 'summary') for (const s of ['_sum', '_count']) out.add(`${name}${s}`);
      continue;
    }
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (sample) out.add(sample[1] as string);
  }
  return out;
}
