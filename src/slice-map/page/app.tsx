/**
 * The slice map page: every node → GPU → slice, coloured by namespace, partition or tenant, with in-use,
 * allocated, realising, free and removing slices drawn apart and slices on borrowed quota marked; filters; a side
 * panel with the clicked slice, the tenants' quota and use, the waiting requests and why they wait (capacity or
 * quota), recent reconfigurations and fragmentation. Fed by the operator's event stream.
 */
import { Component, type ComponentChildren } from 'preact';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { formatGpuEq as gpuEq } from '../gpu-eq-text.js';
import { applyPatch } from '../patch.js';
import { SLICE_STATES, type GpuView, type NodeView, type SliceMapModel, type SliceMapPatch, type SliceView, type TenantView } from '../types.js';
import {
  NO_FILTER,
  age,
  assignHues,
  colourKey,
  colourKeys,
  colourStyle,
  filterChoices,
  nodeVisible,
  quotaWait,
  sliceDimmed,
  sliceId,
  sliceTitle,
  tenantsByCohort,
  type ColourBy,
  type MapFilter,
} from './view.js';

type Connection = 'connecting' | 'live' | 'reconnecting';

/** Follows the operator's event stream: a snapshot, then patches. */
function useSliceMap(): { model: SliceMapModel | undefined; connection: Connection } {
  const [model, setModel] = useState<SliceMapModel | undefined>(undefined);
  const [connection, setConnection] = useState<Connection>('connecting');
  useEffect(() => {
    const events = new EventSource('api/slice-map/events');
    events.addEventListener('snapshot', (e) => {
      setModel(JSON.parse((e as MessageEvent<string>).data) as SliceMapModel);
      setConnection('live');
    });
    events.addEventListener('patch', (e) => {
      const patch = JSON.parse((e as MessageEvent<string>).data) as SliceMapPatch;
      setModel((m) => (m ? applyPatch(m, patch) : m));
    });
    events.onerror = () => setConnection('reconnecting');
    return () => events.close();
  }, []);
  return { model, connection };
}

/** The clock the ages are computed against, ticking every 5 s. */
function useNow(): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 5000);
    return () => clearInterval(t);
  }, []);
  return now;
}

/** The page. */
export function App() {
  const { model, connection } = useSliceMap();
  const [filter, setFilter] = useState<MapFilter>(NO_FILTER);
  const [colourBy, setColourBy] = useState<ColourBy>('namespace');
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const nodes = model?.nodes ?? [];
  const tenants = model?.tenants ?? [];
  const choices = useMemo(() => filterChoices(nodes, tenants), [nodes, tenants]);
  const visible = useMemo(() => nodes.filter((n) => nodeVisible(n, filter)), [nodes, filter]);
  // Same keys → same Map, so that a patch re-renders only the nodes it changed.
  const keyList = colourKeys(nodes, colourBy).sort().join('\n');
  const hues = useMemo(() => assignHues(keyList ? keyList.split('\n') : []), [keyList]);
  const set = (patch: Partial<MapFilter>) => setFilter({ ...filter, ...patch });

  /** The slice element under an event, with where it is. */
  const sliceAt = (e: MouseEvent) => {
    const el = (e.target as HTMLElement).closest<HTMLElement>('[data-start]');
    const gpu = el?.closest<HTMLElement>('[data-gpu]');
    const node = gpu?.closest<HTMLElement>('[data-node]');
    return el && gpu && node ? { el, node: node.dataset.node as string, gpu: Number(gpu.dataset.gpu), start: Number(el.dataset.start) } : undefined;
  };
  const onGridClick = (e: MouseEvent) => {
    const at = sliceAt(e);
    if (at) setSelected(sliceId(at.node, at.gpu, at.start));
  };
  // Hover text is made when the pointer first reaches a slice, not for thousands of slices at every render.
  const onGridOver = (e: MouseEvent) => {
    const at = sliceAt(e);
    const s = at && nodes.find((n) => n.name === at.node)?.gpus.find((g) => g.index === at.gpu)?.slices.find((x) => x.start === at.start);
    if (at && s) at.el.title = sliceTitle(at.node, at.gpu, s);
  };

  return (
    <div class="page">
      <header>
        <h1>Haein slice map</h1>
        <span class={`conn conn-${connection}`} data-connection={connection}>
          {connection}
        </span>
        {model && <Totals model={model} />}
        <div class="filters">
          <Select label="namespace" value={filter.namespace} options={choices.namespaces} onChange={(v) => set({ namespace: v })} />
          <Select label="tenant" value={filter.tenant} options={choices.tenants} onChange={(v) => set({ tenant: v })} />
          <Select label="clique" value={filter.clique} options={choices.cliques} onChange={(v) => set({ clique: v })} />
          <Select label="product" value={filter.product} options={choices.products} onChange={(v) => set({ product: v })} />
          <Select label="show" value={filter.show} options={['free', 'used']} onChange={(v) => set({ show: v as MapFilter['show'] })} />
          <label>
            colour by{' '}
            <select name="colour" value={colourBy} onChange={(e) => setColourBy((e.target as HTMLSelectElement).value as ColourBy)}>
              <option value="namespace">namespace</option>
              <option value="partition">partition / job</option>
              <option value="tenant">tenant</option>
            </select>
          </label>
        </div>
        <Legend />
        <ColourKey hues={hues} colourBy={colourBy} />
      </header>
      <main>
        <section class="grid" onClick={onGridClick} onMouseOver={onGridOver} data-visible-nodes={visible.length}>
          {model === undefined ? <p class="empty">Connecting to the operator…</p> : null}
          {model && !model.synced ? <p class="empty">The operator's caches are still loading…</p> : null}
          {model && model.synced && visible.length === 0 ? <p class="empty">No GPU node matches.</p> : null}
          {visible.map((n) => (
            <NodeCard key={n.name} node={n} filter={filter} colourBy={colourBy} hues={hues} selected={selected?.startsWith(`${n.name}/`) ? selected : undefined} />
          ))}
        </section>
        <aside>{model && <Side model={model} selected={selected} tenantFilter={filter.tenant} onTenant={(t) => set({ tenant: t === filter.tenant ? '' : t })} />}</aside>
      </main>
    </div>
  );
}

function Select(props: { label: string; value: string; options: string[]; onChange: (v: string) => void }) {
  return (
    <label>
      {props.label}{' '}
      <select name={props.label} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
        <option value="">all</option>
        {props.options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

function Totals({ model }: { model: SliceMapModel }) {
  const t = model.totals;
  return (
    <span class="totals" data-gpus={t.gpus}>
      {t.nodes} nodes · {t.gpus} GPUs · {t.slices['in-use']} in use · {t.slices.allocated} allocated · {t.slices.realising} realising · {t.slices.free} free
      slices · {t.uncarvedSlots} uncarved slots · {t.borrowed} borrowed · {model.pending.length} waiting
    </span>
  );
}

function Legend() {
  return (
    <span class="legend">
      {SLICE_STATES.map((s) => (
        <span key={s} class="legend-item">
          <span class={`swatch slice s-${s}`} style={colourStyle(210)} />
          {s}
        </span>
      ))}
      <span class="legend-item">
        <span class="swatch uncarved" />
        uncarved
      </span>
      <span class="legend-item" title="held on quota borrowed from the tenant's cohort: reclaimed first when a lender needs its quota back">
        <span class="swatch slice s-allocated borrowed" style={colourStyle(210)} />
        borrowed (corner mark)
      </span>
    </span>
  );
}

interface NodeCardProps {
  node: NodeView;
  filter: MapFilter;
  colourBy: ColourBy;
  hues: Map<string, number>;
  /** The selected slice id when it is on this node. */
  selected: string | undefined;
}

/** One node; re-renders only when its view, the filter, the colouring or its selection changes (patches keep unchanged nodes identical). */
class NodeCard extends Component<NodeCardProps> {
  override shouldComponentUpdate(next: NodeCardProps): boolean {
    const p = this.props;
    return next.node !== p.node || next.filter !== p.filter || next.colourBy !== p.colourBy || next.hues !== p.hues || next.selected !== p.selected;
  }

  override render() {
    const { node, filter, colourBy, hues, selected } = this.props;
    const title = `${node.name} · ${node.product}${node.clique ? ` · clique ${node.clique}` : ''}${node.unschedulableReason ? ` · ${node.unschedulableReason}` : ''}`;
    return (
      <div class={`node${node.schedulable ? '' : ' unsched'}`} data-node={node.name} title={title}>
        <div class="node-name">{node.name}</div>
        {node.gpus.map((g) => (
          <Gpu key={g.index} node={node.name} gpu={g} filter={filter} colourBy={colourBy} hues={hues} selected={selected} />
        ))}
      </div>
    );
  }
}

function Gpu(props: { node: string; gpu: GpuView; filter: MapFilter; colourBy: ColourBy; hues: Map<string, number>; selected: string | undefined }) {
  const { node, gpu, filter, colourBy, hues, selected } = props;
  const cls = `gpu${gpu.healthy ? '' : ' unhealthy'}${gpu.reconfiguring ? ' reconfiguring' : ''}`;
  return (
    <div class={cls} data-gpu={gpu.index} data-mode={gpu.mode}>
      {gpu.slices.map((s) => (
        <div
          key={s.start}
          class={`slice s-${s.state}${s.holder?.borrowed ? ' borrowed' : ''}${sliceDimmed(s, filter) ? ' dim' : ''}${selected === sliceId(node, gpu.index, s.start) ? ' selected' : ''}`}
          style={`left:${(s.start / gpu.slots) * 100}%;width:${(s.size / gpu.slots) * 100}%;${colourStyle(hueFor(hues, colourKey(s, colourBy)))}`}
          data-start={s.start}
          data-profile={s.profile}
          data-state={s.state}
          data-holder={s.holder ? `${s.holder.kind}/${s.holder.namespace}/${s.holder.name}` : undefined}
          data-tenant={s.holder?.tenant}
          data-borrowed={s.holder?.borrowed ? 'true' : undefined}
        />
      ))}
    </div>
  );
}

function hueFor(hues: Map<string, number>, key: string | undefined): number | undefined {
  return key === undefined ? undefined : hues.get(key);
}

/** Which colour is whose, while there are few enough keys to list (by tenant, grey is held for no tenant). */
function ColourKey({ hues, colourBy }: { hues: Map<string, number>; colourBy: ColourBy }) {
  if (hues.size === 0 || hues.size > 16) return null;
  return (
    <span class="legend colour-key">
      {[...hues.entries()].map(([key, hue]) => (
        <span key={key} class="legend-item" data-colour-key={key}>
          <span class="swatch slice s-in-use" style={colourStyle(hue)} />
          {key}
        </span>
      ))}
      {colourBy === 'tenant' ? (
        <span class="legend-item">
          <span class="swatch slice s-in-use" />
          no tenant
        </span>
      ) : null}
    </span>
  );
}

function Side(props: { model: SliceMapModel; selected: string | undefined; tenantFilter: string; onTenant: (name: string) => void }) {
  const { model, selected } = props;
  const now = useNow();
  return (
    <>
      <Section title="Selected slice">
        <Selection model={model} selected={selected} now={now} />
      </Section>
      {model.tenants.length > 0 ? (
        <Section title={`Tenants (${model.tenants.length})`}>
          <Tenants tenants={model.tenants} selected={props.tenantFilter} onTenant={props.onTenant} />
        </Section>
      ) : null}
      <Section title={`Waiting (${model.pending.length})`}>
        {model.pending.length === 0 ? <p class="muted">Nothing waits.</p> : null}
        <ol class="pending">
          {model.pending.slice(0, 60).map((p) => (
            <li key={`${p.kind}/${p.namespace}/${p.name}`} data-pending={`${p.kind}/${p.namespace}/${p.name}`}>
              <div>
                {p.position ? <b>#{p.position} </b> : null}
                {p.kind} {p.namespace}/{p.name} <span class="muted">wants {p.wants}{p.tenant ? ` for tenant ${p.tenant}` : ''}{p.created ? `, ${age(p.created, now)}` : ''}</span>
              </div>
              <div class={`why${quotaWait(p) ? ' quota-wait' : ''}`} data-waits-for={quotaWait(p) ? 'quota' : 'capacity'}>
                {quotaWait(p) ? <span class="tag">quota</span> : null}
                <code>{p.reason}</code> {p.message}
              </div>
            </li>
          ))}
        </ol>
        {model.pending.length > 60 ? <p class="muted">and {model.pending.length - 60} more (kubectl haein why …)</p> : null}
      </Section>
      <Section title="Reconfigurations">
        {model.reconfigurations.length === 0 ? <p class="muted">None yet.</p> : null}
        <ul class="reconfig">
          {model.reconfigurations.slice(0, 15).map((r) => (
            <li key={`${r.node}/${r.generation}/${r.inProgress}`}>
              {r.node} gen {r.generation}{' '}
              {r.inProgress ? <i>reconfiguring…</i> : <span class="muted">{r.durationSeconds?.toFixed(1)} s, {age(r.finishedAt, now)} ago</span>}
            </li>
          ))}
        </ul>
      </Section>
      <Section title="Fragmentation">
        {model.fragmentation.map((f) => (
          <div key={f.model} class="frag" title="share of free memory stranded on partly used GPUs">
            {f.model} <meter min={0} max={1} value={f.ratio} /> {(f.ratio * 100).toFixed(0)}%
          </div>
        ))}
      </Section>
    </>
  );
}

/** Each tenant's quota and use, grouped by cohort; a click filters the map to the tenant. */
function Tenants(props: { tenants: TenantView[]; selected: string; onTenant: (name: string) => void }) {
  return (
    <table class="tenants">
      <thead>
        <tr>
          <th>tenant</th>
          <th title="guaranteed quota, GPU-equivalents">nominal</th>
          <th title="GPU-equivalents held now">used</th>
          <th title="used above nominal, on the cohort's quota">borr.</th>
          <th title="of its unused nominal, what cohort peers use now">lent</th>
          <th title="requests waiting to be placed">wait</th>
        </tr>
      </thead>
      {tenantsByCohort(props.tenants).map((g) => (
        <tbody key={g.cohort ?? ''}>
          <tr class="cohort">
            <td colSpan={6}>{g.cohort ? `cohort ${g.cohort}` : 'no cohort'}</td>
          </tr>
          {g.tenants.map((t) => (
            <tr
              key={t.name}
              data-tenant={t.name}
              class={`${t.name === props.selected ? 'selected' : ''}${t.conflicts.length ? ' conflict' : ''}`}
              title={tenantTitle(t)}
              onClick={() => props.onTenant(t.name)}
            >
              <td>
                {t.name}
                <meter min={0} max={Math.max(t.nominal, t.used, 0.001)} value={t.used} />
              </td>
              <td data-field="nominal">{gpuEq(t.nominal)}</td>
              <td data-field="used">{t.reported ? gpuEq(t.used) : '…'}</td>
              <td data-field="borrowed" class={t.borrowed > 0 ? 'borrowing' : ''}>
                {t.reported ? gpuEq(t.borrowed) : '…'}
              </td>
              <td data-field="lent">{t.reported ? gpuEq(t.lent) : '…'}</td>
              <td data-field="waiting">{t.reported ? t.waiting : '…'}</td>
            </tr>
          ))}
        </tbody>
      ))}
    </table>
  );
}

/** Hover text of a tenant row: limits, weight, namespaces, use by profile, conflicts. */
function tenantTitle(t: TenantView): string {
  const lines = [
    `${t.name}: nominal ${gpuEq(t.nominal)} GPU-eq, weight ${t.weight}` +
      (t.borrowingLimit !== undefined ? `, borrows at most ${gpuEq(t.borrowingLimit)}` : '') +
      (t.lendingLimit !== undefined ? `, lends at most ${gpuEq(t.lendingLimit)}` : ''),
    `namespaces: ${t.namespaces.join(', ') || 'none'}`,
    `on the map: ${t.held} slice(s)/GPU(s), ${t.heldBorrowed} borrowed`,
  ];
  if (t.byProfile.length) lines.push(`by profile: ${t.byProfile.map((p) => `${p.slices} × ${p.profile} = ${gpuEq(p.gpuEq)}`).join(', ')}`);
  if (t.profileLimits.length) lines.push(`caps: ${t.profileLimits.map((l) => `${l.max} × ${l.profile}`).join(', ')}`);
  if (t.conflicts.length) lines.push(`namespaces also claimed by another tenant (no quota): ${t.conflicts.join(', ')}`);
  if (!t.reported) lines.push('the operator has not reported this tenant yet');
  return lines.join('\n');
}

function Section(props: { title: string; children: ComponentChildren }) {
  return (
    <section class="side-section">
      <h2>{props.title}</h2>
      {props.children}
    </section>
  );
}

function Selection({ model, selected, now }: { model: SliceMapModel; selected: string | undefined; now: number }) {
  if (!selected) return <p class="muted">Click a slice for its holder, pods, age and MIG UUID.</p>;
  const [nodeName, gpuText, startText] = selected.split('/');
  const node = model.nodes.find((n) => n.name === nodeName);
  const gpu = node?.gpus.find((g) => g.index === Number(gpuText));
  const s: SliceView | undefined = gpu?.slices.find((x) => x.start === Number(startText));
  if (!node || !gpu || !s) return <p class="muted">That slice is gone.</p>;
  const h = s.holder;
  return (
    <dl class="selection" data-selected={selected}>
      <dt>slice</dt>
      <dd>
        {s.profile} at memory slot {s.start} · <b>{s.state}</b>
      </dd>
      <dt>where</dt>
      <dd>
        {node.name} GPU {gpu.index} ({node.product}
        {node.clique ? `, clique ${node.clique}` : ''})
      </dd>
      <dt>holder</dt>
      <dd data-field="holder">{h ? `${h.kind} ${h.namespace}/${h.name} (${h.kind === 'TrainingJob' ? 'rank' : 'slot'} ${h.slot}, priority ${h.priority})` : 'none'}</dd>
      <dt>tenant</dt>
      <dd data-field="tenant">{h ? selectionTenant(s) : '—'}</dd>
      <dt>pods</dt>
      <dd data-field="pods">{s.pods.length ? s.pods.join(', ') : 'none'}</dd>
      <dt>age</dt>
      <dd data-field="age">{s.since ? `${age(s.since, now)} (since ${s.since})` : '—'}</dd>
      <dt>{s.profile === 'whole' ? 'GPU UUID' : 'MIG UUID'}</dt>
      <dd data-field="uuid">
        <code>{s.uuid ?? 'not realised yet'}</code>
      </dd>
      {s.profile === 'whole' ? null : (
        <>
          <dt>GPU UUID</dt>
          <dd>
            <code>{gpu.uuid ?? '—'}</code>
          </dd>
        </>
      )}
    </dl>
  );
}

/** The tenant line of the selected slice. */
function selectionTenant(s: SliceView): string {
  const h = s.holder;
  if (!h?.tenant) return 'none';
  if (h.tenantByNamespace) return `${h.tenant} (its namespace's tenant; the claim predates tenancy and is charged to nobody)`;
  return h.borrowed ? `${h.tenant}, on quota borrowed from its cohort (reclaimed first)` : `${h.tenant}, within its nominal quota`;
}
