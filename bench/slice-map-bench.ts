#!/usr/bin/env node
/**
 * Slice map benchmark (`npm run bench:slice-map`): a busy fleet of 128 nodes × 8 B200 (1,024 GPUs, carved by the
 * placement engine, its namespaces in three GpuTenants) served from memory by the real slice map server and
 * drawn by Debian's headless Chromium.
 * Measures: building the model, the size of a snapshot and of a one-node patch, the page's first full render
 * (navigation start → every GPU in the DOM), and the update latency (a GpuNode change in the source → the
 * changed slice in the DOM) over `UPDATES` changes. Needs `npm run build` (the page bundle) and
 * hack/install-chromium.sh. Prints a table, then one JSON line.
 */
// First: checks the Node.js version before any dependency loads.
import '../src/cmd/require-node.js';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GpuNode, GpuPartition, GpuTenant, TrainingJob } from '../src/api/types.js';
import type { PodObject } from '../src/api/pods.js';
import type { NodeObject } from '../src/ledger/snapshot.js';
import { buildSliceMap } from '../src/slice-map/build-model.js';
import { diffModel, indexModel } from '../src/slice-map/patch.js';
import { SliceMapServer } from '../src/slice-map/server.js';
import { waitForCount } from './browser-waits.js';
import { FLEET_TENANTS, fleetTenants, sliceMapFleet } from './slice-map-fleet.js';
import { StaticSource } from './static-source.js';

const NODES = Number(process.env.BENCH_NODES ?? 128);
const UPDATES = Number(process.env.BENCH_UPDATES ?? 20);
const CHROMIUM = process.env.HAEIN_CHROMIUM ?? '/usr/bin/chromium';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function main(): Promise<void> {
  if (process.argv.includes('--help')) {
    process.stdout.write('slice-map-bench: model build, snapshot/patch size, first render and update latency in headless Chromium.\nRun it with: npm run bench:slice-map   env: BENCH_NODES (128), BENCH_UPDATES (20), HAEIN_CHROMIUM\n');
    return;
  }
  const assets = path.join(ROOT, 'dist', 'src', 'slice-map', 'page');
  if (!existsSync(path.join(assets, 'slice-map.js'))) throw new Error('the page is not built: run npm run build');
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run hack/install-chromium.sh`);
  // Its namespaces belong to three tenants of one cohort; some claims are borrowed.
  const fleet = sliceMapFleet({ nodes: NODES, tenants: FLEET_TENANTS });
  const tenants = fleetTenants(fleet, FLEET_TENANTS);
  const nodes = fleet.map((g): NodeObject => ({ metadata: { name: g.metadata.name as string }, status: { conditions: [{ type: 'Ready', status: 'True' }] } }));
  const byName = new Map(nodes.map((n) => [n.metadata.name, n]));

  // Model build and sizes.
  const input = { gpuNodes: fleet, node: (n: string) => byName.get(n), partitions: [], jobs: [], pods: [], tenants, synced: true, now: new Date() };
  const builds: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t0 = performance.now();
    buildSliceMap(input);
    builds.push(performance.now() - t0);
  }
  const model = buildSliceMap(input);
  const changed = structuredClone(fleet);
  changed[0]!.status!.gpus![0]!.health = 'Unhealthy';
  const patch = diffModel(indexModel(model), indexModel(buildSliceMap({ ...input, gpuNodes: changed })));

  // The server and the page.
  const gpuNodes = new StaticSource<GpuNode>(fleet);
  const server = new SliceMapServer({
    port: 0,
    host: '127.0.0.1',
    assetsDir: assets,
    sources: { gpuNodes, nodes: new StaticSource<NodeObject>(nodes), partitions: new StaticSource<GpuPartition>([]), jobs: new StaticSource<TrainingJob>([]), pods: [new StaticSource<PodObject>([])], tenants: new StaticSource<GpuTenant>(tenants) },
  });
  const url = `http://127.0.0.1:${await server.start()}/`;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  try {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(url);
    await waitForCount(page, '[data-gpu]', NODES * 8, Infinity, { polling: 'raf', timeout: 60_000 });
    const firstRenderMs = (await page.evaluate('performance.now()')) as number;
    // Updates: give one GPU of a node a whole-GPU claim of a new job, then wait for it on the page.
    const latencies: number[] = [];
    for (let i = 0; i < UPDATES; i++) {
      const gn = structuredClone(fleet[(i * 7) % fleet.length] as GpuNode);
      const name = `bench-${i}`;
      gn.spec!.gpus![0] = { index: 0, mode: 'whole', slices: [], claim: { kind: 'TrainingJob', namespace: 'bench', name, uid: name, slot: 0, priority: 0, preemptible: false } };
      const shown = page.evaluate(`new Promise((resolve) => {
        const sel = '[data-holder="TrainingJob/bench/${name}"]';
        const check = () => { if (!document.querySelector(sel)) return false; resolve(Date.now()); return true; };
        if (check()) return;
        const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
        obs.observe(document.body, { subtree: true, childList: true, attributes: true });
      })`) as Promise<number>;
      // Spaced out so that each change is a first change after a quiet spell (no coalescing wait).
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      gpuNodes.put(gn);
      latencies.push((await shown) - t0);
    }
    const figures = {
      gpus: model.totals.gpus,
      modelBuildMsP50: Number(quantile(builds, 0.5).toFixed(2)),
      snapshotBytes: JSON.stringify(model).length,
      onePatchBytes: JSON.stringify(patch).length,
      firstRenderMs: Math.round(firstRenderMs),
      updateLatencyMsP50: quantile(latencies, 0.5),
      updateLatencyMsP95: quantile(latencies, 0.95),
      updates: latencies.length,
      loadavg1: Number(loadavg()[0]?.toFixed(2)),
    };
    process.stdout.write(`slice map: ${figures.gpus} GPUs
  model build              ${figures.modelBuildMsP50} ms (p50 of 30)
  snapshot / one-node patch ${(figures.snapshotBytes / 1024).toFixed(0)} KiB / ${(figures.onePatchBytes / 1024).toFixed(1)} KiB
  first render             ${figures.firstRenderMs} ms after navigation start
  update → page            p50 ${figures.updateLatencyMsP50} ms, p95 ${figures.updateLatencyMsP95} ms (${figures.updates} updates)
  load average             ${figures.loadavg1}
${JSON.stringify(figures)}
`);
  } finally {
    await browser.close();
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`slice-map-bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
