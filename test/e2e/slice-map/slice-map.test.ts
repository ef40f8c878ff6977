/**
 * The slice map, the kubectl plugin and the Grafana dashboard against a real operator process on the control
 * plane: three KWOK nodes whose GPUs the node agent simulates (KWOK mode), the operator watching this suite's
 * namespace with --slice-map-port, examples/ applied, and Debian's headless Chromium reading the page.
 * Checks: the demo's partitions and job appear on the GPUs their status names; the demo's tenants appear in the
 * tenants panel with the figures of their status, slices coloured and filtered by tenant, the borrowed ones
 * marked as the ledger says; a new partition appears on the open page, pushed by the operator; a map of 1,024
 * GPUs renders completely (both latencies printed; their targets are measured by `npm run bench:slice-map`); `kubectl haein` found by kubectl on PATH (tenants in map, top and why); every
 * dashboard query names a metric the running operator exports.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import type { GpuNode, GpuPartition, GpuTenant, TrainingJob } from '../../../src/api/types.js';
import { PANELS, exposedMetricNames, metricNamesIn } from '../../../src/dashboards/operator-dashboard.js';
import { KubeClient, RESOURCES } from '../../../src/k8s/client.js';
import { formatGpuEq } from '../../../src/slice-map/gpu-eq-text.js';
import { freePort, startNodeProcess, stopProcess, type Child } from '../../../bench/scale/processes.js';
import { forEachLimit } from '../../../bench/scale/pool.js';
import { REPO_ROOT, createTestNamespace, eventually, getKubeConfig, installCrds, kubeconfigPath, toolDir, type TestNamespace } from '../../support/cluster.js';
import { createExamples } from '../../support/examples.js';
import { watchLedgerFor } from '../../support/ledger-checks.js';
import { sliceMapFleet } from '../../../bench/slice-map-fleet.js';
import { waitForCount } from '../../../bench/browser-waits.js';
import { launchChromium } from '../support/browser.js';

const run = promisify(execFile);

let client: KubeClient;
let ns: TestNamespace;
let selector: Record<string, string>;
let nodeNames: string[] = [];
let fleetNames: string[] = [];
let tenants: string[] = [];
const children: Child[] = [];
let browser: Browser | undefined;
let page: Page;
let mapUrl = '';
let metricsUrl = '';
const work = mkdtempSync(join(tmpdir(), 'haein-smap-'));

async function ready(name: string): Promise<GpuPartition> {
  return eventually(async () => {
    const p = await client.get<GpuPartition>(RESOURCES.gpuPartition, name, ns.name);
    return p?.status?.phase === 'Ready' ? p : undefined;
  }, { timeoutMs: 90_000, what: `GpuPartition ${name} Ready` });
}

beforeAll(async () => {
  client = new KubeClient(getKubeConfig());
  await installCrds();
  ns = await createTestNamespace('smap');
  selector = { 'haein.dev/suite': ns.name };
  nodeNames = [0, 1, 2].map((i) => `${ns.name}-n${i}`);
  for (const name of nodeNames) {
    await client.create(RESOURCES.node, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, annotations: { 'kwok.x-k8s.io/node': 'fake' }, labels: { ...selector, 'kubernetes.io/hostname': name, type: 'kwok' } },
      status: { capacity: { cpu: '64', memory: '512Gi', pods: '110' }, allocatable: { cpu: '64', memory: '512Gi', pods: '110' } },
    });
  }
  const [metricsPort, healthPort, mapPort] = [await freePort(), await freePort(), await freePort()];
  const logs = join(work, 'logs');
  mkdirSync(logs, { recursive: true });
  // The real node agent in KWOK mode; three nodes in one NVLink domain, as the example job's sameClique asks.
  children.push(
    startNodeProcess('agent', join(REPO_ROOT, 'dist/src/cmd/node-agent.js'), [
      '--kubeconfig', kubeconfigPath(), '--node-selector', `haein.dev/suite=${ns.name}`, '--model', 'NVIDIA-B200', '--gpus', '8',
      '--nodes-per-clique', '3', '--no-device-plugin', '--state-dir', join(work, 'agent'), '--health-port', '0',
    ], join(logs, 'agent.log'), { LOG_LEVEL: 'warn' }),
  );
  children.push(
    startNodeProcess('operator', join(REPO_ROOT, 'dist/src/cmd/operator.js'), [
      '--kubeconfig', kubeconfigPath(), `--namespace=${ns.name}`, '--leader-elect=false',
      `--metrics-port=${metricsPort}`, `--health-port=${healthPort}`, `--slice-map-port=${mapPort}`,
    ], join(logs, 'operator.log'), { LOG_LEVEL: 'info', POD_NAMESPACE: ns.name }),
  );
  mapUrl = `http://127.0.0.1:${mapPort}/`;
  metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
  await eventually(async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok, { timeoutMs: 60_000, what: `operator ready (log ${logs}/operator.log)` });
  await eventually(async () => (await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((g) => nodeNames.includes(g.metadata.name ?? '') && g.status?.inventory).length === 3, {
    timeoutMs: 60_000,
    what: `the agent's GpuNodes (log ${logs}/agent.log)`,
  });

  tenants = await createExamples(client, ns.name, selector);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(mapUrl);
}, 240_000);

afterAll(async () => {
  await browser?.close();
  for (const c of children.reverse()) await stopProcess(c);
  await forEachLimit([...nodeNames, ...fleetNames], 8, async (n) => {
    await client.delete(RESOURCES.gpuNode, n).catch(() => undefined);
    await client.delete(RESOURCES.node, n).catch(() => undefined);
  });
  for (const t of tenants) await client.delete(RESOURCES.gpuTenant, t).catch(() => undefined);
  await ns?.cleanup();
}, 120_000);

const slice = (node: string, gpu: number, holder: string, start?: number) =>
  `[data-node="${node}"] [data-gpu="${gpu}"] [data-holder="${holder}"]${start === undefined ? '' : `[data-start="${start}"]`}`;

test('the demo partitions and job appear on the GPUs their status names, with holder and MIG UUID on click', async () => {
  // A partition with no pod may still be moved by defragmentation while the job is placed: status and page are
  // read together until they agree.
  for (const name of ['notebook', 'inference']) {
    let seen = '';
    await eventually(
      async () => {
        const allocations = (await ready(name)).status?.allocations ?? [];
        const onPage = await Promise.all(allocations.map((a) => page.locator(slice(a.node, a.gpuIndex, `GpuPartition/${ns.name}/${name}`, a.start)).count()));
        const total = await page.locator(`[data-holder="GpuPartition/${ns.name}/${name}"]`).count();
        seen = `status ${allocations.map((a) => `${a.node}/${a.gpuIndex}@${a.start}`).join(' ')}, on the page ${onPage.join(' ')} of ${total}`;
        return allocations.length > 0 && onPage.every((n) => n === 1) && total === allocations.length;
      },
      { timeoutMs: 30_000, what: () => `the page showing ${name} where its status says (${seen})` },
    );
  }
  const job = await eventually(async () => {
    const j = await client.get<TrainingJob>(RESOURCES.trainingJob, 'llm-pretrain', ns.name);
    return j?.status?.phase === 'Running' ? j : undefined;
  }, { timeoutMs: 90_000, what: 'llm-pretrain Running' });
  const gpus = (job.status?.workers ?? []).flatMap((w) => (w.gpuIndices ?? []).map((g) => [w.node as string, g] as const));
  expect(gpus).toHaveLength(16);
  for (const [node, gpu] of gpus) await page.waitForSelector(slice(node, gpu, `TrainingJob/${ns.name}/llm-pretrain`), { timeout: 30_000 });

  // Clicking the notebook's slice shows its holder and the MIG UUID its status reports.
  await eventually(
    async () => {
      const nb = (await ready('notebook')).status?.allocations?.[0];
      await page.click(slice(nb!.node, nb!.gpuIndex, `GpuPartition/${ns.name}/notebook`, nb!.start), { timeout: 5_000 });
      await page.waitForSelector(`[data-field="uuid"]:has-text("${nb!.uuid}")`, { timeout: 5_000 });
      return true;
    },
    { timeoutMs: 30_000, what: "the notebook slice's details with its MIG UUID after a click" },
  );
  expect(await page.textContent('[data-field="holder"]')).toContain(`GpuPartition ${ns.name}/notebook`);

  // The namespace filter keeps only the nodes holding this namespace's slices: the suite's three.
  await page.selectOption('select[name="namespace"]', ns.name);
  await waitForCount(page, '[data-node]', 3, 3, { timeout: 5_000 });
  expect((await page.locator('[data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).sort()).toEqual(nodeNames);
  await page.selectOption('select[name="namespace"]', '');
}, 200_000);

test('the demo tenants: the panel shows their figures, slices are coloured and filtered by tenant, borrowed ones marked', async () => {
  const [research, vision] = ['research', 'vision'].map((t) => `${t}-${ns.name}`) as [string, string];
  // research runs the demo on 16 GPU-eq of its own and 1.429 borrowed from vision (examples/05-tenants.yaml; the
  // examples' GPUs and slices add up to 17.429 GPU-eq, as test/integration/controllers/examples.test.ts counts them).
  await eventually(async () => (await client.get<GpuTenant>(RESOURCES.gpuTenant, research))?.status?.used === 17.429, { timeoutMs: 60_000, what: `${research} uses 17.429 GPU-eq` });
  const figures = (tenant: string) =>
    page.evaluate(`Object.fromEntries([...document.querySelectorAll('[data-tenant=${JSON.stringify(tenant)}] [data-field]')].map((td) => [td.dataset.field, td.textContent]))`) as Promise<Record<string, string>>;
  const want = { [research]: { nominal: '16', used: '17.429', borrowed: '1.429', lent: '0', waiting: '0' }, [vision]: { nominal: '16', used: '0', borrowed: '0', lent: '1.429', waiting: '0' } };
  await eventually(async () => {
    const got = { [research]: await figures(research), [vision]: await figures(vision) };
    return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
  }, { timeoutMs: 30_000, what: `tenants panel showing ${JSON.stringify(want)}` });
  expect(await page.textContent(`tr[data-tenant="${research}"]`)).toContain(research);

  // Every slice held in this namespace names research; the marked ones are exactly the ledger's borrowed claims.
  // The ledger may move an idle slice (defragmentation) between two reads, so page and ledger are read together
  // until they agree; the page follows the ledger within a moment.
  const suiteSlices = nodeNames.map((n) => `[data-node="${n}"] [data-holder]`).join(', ');
  const borrowedInLedger = async () => {
    const ledger = (await client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((g) => nodeNames.includes(g.metadata.name ?? ''));
    return ledger
      .flatMap((g) => (g.spec?.gpus ?? []).flatMap((t) => (t.mode === 'whole' ? [{ start: 0, claim: t.claim }] : t.slices).filter((s) => s.claim?.borrowed).map((s) => `${g.metadata.name}/${t.index}/${s.start}`)))
      .sort();
  };
  const slicesOnPage = async () =>
    (await page.locator(suiteSlices).evaluateAll((els) =>
      els.map((e) => ({
        at: `${e.closest('[data-node]')?.getAttribute('data-node')}/${e.closest('[data-gpu]')?.getAttribute('data-gpu')}/${e.getAttribute('data-start')}`,
        tenant: e.getAttribute('data-tenant'),
        borrowed: e.getAttribute('data-borrowed') === 'true' && e.classList.contains('borrowed'),
      })),
    )) as Array<{ at: string; tenant: string | null; borrowed: boolean }>;
  let last: { borrowed: string[]; marked: string[] } = { borrowed: [], marked: [] };
  const agreed = await eventually(
    async () => {
      const borrowed = await borrowedInLedger();
      const onPage = await slicesOnPage();
      last = { borrowed, marked: onPage.filter((x) => x.borrowed).map((x) => x.at).sort() };
      return JSON.stringify(last.borrowed) === JSON.stringify(last.marked) ? { borrowed, onPage } : undefined;
    },
    { timeoutMs: 30_000, what: "the page marking the ledger's borrowed slices" },
  ).catch(() => undefined);
  expect(last.marked).toEqual(last.borrowed);
  expect(agreed?.borrowed.length).toBeGreaterThan(0);
  expect(new Set(agreed?.onPage.map((x) => x.tenant))).toEqual(new Set([research]));

  // Colour by tenant: the key names research; the tenant filter keeps this suite's three nodes.
  await page.selectOption('select[name="colour"]', 'tenant');
  await page.waitForSelector(`[data-colour-key="${research}"]`, { timeout: 5_000 });
  await page.selectOption('select[name="tenant"]', research);
  await waitForCount(page, '[data-node]', 3, 3, { timeout: 5_000 });
  expect((await page.locator('[data-node]').evaluateAll((els) => els.map((e) => e.getAttribute('data-node')))).sort()).toEqual(nodeNames);
  await page.selectOption('select[name="tenant"]', '');
  await page.selectOption('select[name="colour"]', 'namespace');
}, 120_000);

test('a new partition appears on the open page, pushed by the operator (latency printed; measured by npm run bench:slice-map)', async () => {
  // When the ledger write (the GpuNode change naming the new partition) reaches a watcher, and when the page shows it.
  const written = await watchLedgerFor(client, (gn) => (gn.spec?.gpus ?? []).some((g) => g.slices.some((s) => s.claim?.name === 'fresh' && s.claim.namespace === ns.name)));
  // In the page (a string: the test is compiled without the DOM library): resolves when the slice is drawn.
  const sel = `[data-holder="GpuPartition/${ns.name}/fresh"]`;
  const shown = page.evaluate(`new Promise((resolve) => {
    const check = () => { if (!document.querySelector(${JSON.stringify(sel)})) return false; resolve(Date.now()); return true; };
    if (check()) return;
    const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
    obs.observe(document.body, { subtree: true, childList: true, attributes: true });
  })`) as Promise<number>;
  await client.create(RESOURCES.gpuPartition, { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuPartition', metadata: { name: 'fresh', namespace: ns.name }, spec: { profile: '2g.45gb', nodeSelector: selector } });
  const [tWrite, tShown] = await Promise.all([written.seen, shown]);
  const latency = tShown - tWrite;
  process.stderr.write(`slice map: new partition shown ${latency} ms after its ledger write reached a watcher\n`);
  // On the page as it was (no reload), on the GPU the ledger names. The 1 s target is the benchmark's.
  const at = (await client.list<GpuNode>(RESOURCES.gpuNode)).items.flatMap((gn) =>
    (gn.spec?.gpus ?? []).filter((g) => g.slices.some((x) => x.claim?.name === 'fresh' && x.claim.namespace === ns.name)).map((g) => `[data-node="${gn.metadata.name}"] [data-gpu="${g.index}"] ${sel}`),
  );
  expect(at).toHaveLength(1);
  expect(await page.locator(at[0]!).count()).toBe(1);
}, 60_000);

test('kubectl finds the plugin on PATH: map, why and top against the cluster', async () => {
  // Only kubectl-haein on PATH besides the project's Node (the shebang says `env node`).
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  const entry = join(REPO_ROOT, 'dist/src/cmd/kubectl-haein.js');
  chmodSync(entry, 0o755);
  symlinkSync(entry, join(bin, 'kubectl-haein'));
  const env = { ...process.env, PATH: `${bin}:${join(REPO_ROOT, 'node_modules', '.bin')}:/usr/bin:/bin`, KUBECONFIG: kubeconfigPath() };
  const kubectl = join(await toolDir(), 'kubectl');
  const plugin = (args: string[]) => run(kubectl, ['haein', ...args], { env, maxBuffer: 16 * 1024 * 1024 });

  const map = await plugin(['map', '-n', ns.name]);
  expect(map.stdout).toMatch(new RegExp(`^${ns.name}-n\\d\\s+\\d\\s+mig\\s+\\S{8}\\s+.*gpup/${ns.name}/notebook#0`, 'm'));
  const json = JSON.parse((await plugin(['map', '-n', ns.name, '-o', 'json'])).stdout) as { nodes: Array<{ name: string }> };
  expect(json.nodes.every((n) => nodeNames.includes(n.name))).toBe(true);
  expect((await plugin(['top', '-n', ns.name])).stdout).toMatch(new RegExp(`^${ns.name}\\s+1g\\.23gb\\s+1\\s`, 'm'));
  const research = `research-${ns.name}`;
  expect((await plugin(['map', '-n', ns.name, '-o', 'wide'])).stdout).toContain(`[${research}*]`);
  // top --by tenant prints what the tenant's status says.
  await eventually(async () => {
    const status = (await client.get<GpuTenant>(RESOURCES.gpuTenant, research))?.status ?? {};
    const figures = [16, status.used, status.borrowed, status.lent, status.waiting].map((x) => formatGpuEq(x ?? 0).replace('.', '\\.')).join('\\s+');
    return new RegExp(`^${research}\\s+lab-${ns.name}\\s+${figures}\\s`, 'm').test((await plugin(['top', '--by', 'tenant', '--tenant', research])).stdout);
  }, { timeoutMs: 15_000, what: `top --by tenant showing ${research}'s status figures` });

  await client.create(RESOURCES.gpuPartition, { apiVersion: 'gpu.haein.dev/v1alpha1', kind: 'GpuPartition', metadata: { name: 'too-big', namespace: ns.name }, spec: { profile: '7g.180gb', count: 30, nodeSelector: selector } });
  const why = await eventually(async () => {
    const out = (await plugin(['why', 'gpup/too-big', '-n', ns.name])).stdout;
    return out.includes('Allocated=False') ? out : undefined;
  }, { timeoutMs: 30_000, what: 'too-big judged by the operator' });
  // 30 GPU-eq is beyond research's quota and what its cohort may lend: a quota wait, with the tenant's figures.
  expect(why).toContain(`GpuPartition ${ns.name}/too-big waits for its tenant's quota (QuotaExceeded).`);
  expect(why).toMatch(/condition\s+QuotaReserved=False QuotaExceeded/);
  expect(why).toMatch(new RegExp(`tenant\\s+${research}: nominal 16, used [\\d.]+, borrowed [\\d.]+, lent 0, waiting \\d+ \\(GPU-eq\\); cohort lab-${ns.name}, borrows at most 4`));
  expect(why).toMatch(new RegExp(`cohort\\s+vision-${ns.name}: nominal 16, .*lends at most 12`));
  expect(why).toMatch(/queue\s+position \d+ of \d+ waiting/);
  expect(why).toMatch(new RegExp(`closest\\s+${ns.name}-n\\d: \\d+ of 30 member\\(s\\) fit there`));
  const missing = await plugin(['why', 'tj/nope', '-n', ns.name]).catch((err: { code: number; stderr: string }) => err);
  expect(missing).toMatchObject({ code: 1, stderr: expect.stringContaining('"nope" not found') });
  const usage = await plugin(['frob']).catch((err: { code: number; stderr: string }) => err);
  expect(usage).toMatchObject({ code: 2 });
  await client.delete(RESOURCES.gpuPartition, 'too-big', ns.name);
}, 90_000);

test('every Grafana dashboard query names a metric the running operator exports', async () => {
  const exposed = exposedMetricNames(await (await fetch(metricsUrl)).text());
  const missing = PANELS.flatMap((g) => g.panels.flatMap((p) => p.queries.flatMap((q) => metricNamesIn(q.expr).filter((n) => !exposed.has(n)).map((n) => `${p.title}: ${n}`))));
  expect(missing).toEqual([]);
});

test('a map of 1,024 GPUs renders completely (time printed; the 2 s target is measured by npm run bench:slice-map)', async () => {
  // 128 more nodes × 8 B200, carved by the engine for a busy fleet (the operator leaves other namespaces' claims alone).
  const fleet = sliceMapFleet({ nodes: 128, prefix: `${ns.name}-f`, labels: { 'haein.dev/suite': `${ns.name}-fleet` } });
  fleetNames = fleet.map((g) => g.metadata.name as string);
  await forEachLimit(fleet, 8, async (gn) => {
    const name = gn.metadata.name as string;
    await client.create(RESOURCES.node, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels: { 'haein.dev/suite': `${ns.name}-fleet` } }, status: { conditions: [{ type: 'Ready', status: 'True', reason: 'Fixture', message: '' }] } });
    const created = await client.create<GpuNode>(RESOURCES.gpuNode, { ...gn, status: undefined, metadata: { name, labels: gn.metadata.labels } });
    await client.replaceStatus<GpuNode>(RESOURCES.gpuNode, { ...created, status: { ...gn.status, observedGeneration: created.metadata.generation } });
  });
  // The operator's page shows every GpuNode in the cluster: at least these 1,024 GPUs and the demo's 24.
  const fresh = await browser!.newPage({ viewport: { width: 1600, height: 1000 } });
  await fresh.goto(mapUrl);
  await waitForCount(fresh, '[data-gpu]', 1024 + 24, Infinity, { polling: 'raf', timeout: 30_000 });
  const ms = (await fresh.evaluate('performance.now()')) as number;
  process.stderr.write(`slice map: ${await fresh.locator('[data-gpu]').count()} GPUs rendered ${Math.round(ms)} ms after navigation start\n`);
  expect(await fresh.locator(`[data-node="${ns.name}-f-127"] [data-gpu]`).count()).toBe(8);
  if (process.env.HAEIN_SLICE_MAP_SCREENSHOT) {
    await fresh.click(`[data-node="${ns.name}-f-003"] [data-gpu="5"] [data-start]`);
    await fresh.waitForTimeout(300);
    await fresh.screenshot({ path: process.env.HAEIN_SLICE_MAP_SCREENSHOT });
  }
  await fresh.close();
}, 180_000);
