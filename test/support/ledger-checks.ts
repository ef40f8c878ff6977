/**
 * Invariant checks of the GpuNode ledgers of one suite's nodes, shared by the integration suites that stress the
 * operator (restarts, failovers, conflicts): no claim held twice, every GPU layout legal, and, once settled,
 * every partition holding exactly its `count` slices and reporting exactly them in its status.
 */
import { expect } from '@jest/globals';
import type { GpuNode, GpuPartition, TrainingJob } from '../../src/api/types.js';
import type { KubeClient, WatchHandle } from '../../src/k8s/client.js';
import { RESOURCES } from '../../src/k8s/resources.js';
import { ledgerEntries } from '../../src/ledger/claims.js';
import { modelForProduct, validateLayout } from '../../src/placement/catalog.js';
import { backgroundPoll } from './background-poll.js';

const B200 = modelForProduct('NVIDIA-B200')!;

/**
 * Watches the GpuNode ledgers from now on. Once the watch is set up, returns `seen`: the time (ms) at which the
 * first GpuNode matching `match` reached this watcher; it rejects after `timeoutMs`, and the watch ends either way.
 * For acting on a ledger write the moment it is visible, which a poll would see late.
 */
export async function watchLedgerFor(client: KubeClient, match: (node: GpuNode) => boolean, timeoutMs = 30_000): Promise<{ seen: Promise<number> }> {
  const listed = await client.list<GpuNode>(RESOURCES.gpuNode);
  let handle: WatchHandle | undefined;
  let timer: NodeJS.Timeout | undefined;
  const seen = new Promise<number>((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no matching GpuNode write within ${timeoutMs / 1000} s`)), timeoutMs);
    void client
      .watch(RESOURCES.gpuNode, { resourceVersion: listed.resourceVersion }, (_type, obj: GpuNode) => match(obj) && resolve(Date.now()), () => undefined)
      .then((h) => (handle = h));
  }).finally(() => {
    clearTimeout(timer);
    handle?.abort();
  });
  // Awaited later, after the writes it waits for: a timeout meanwhile is not an unhandled rejection.
  seen.catch(() => undefined);
  return { seen };
}

/** Ledger checks over the suite's nodes and namespace. */
export class LedgerChecks {
  constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly nodeNames: string[],
  ) {}

  /** The suite's GpuNodes as the API server has them now. */
  async gpuNodes(): Promise<GpuNode[]> {
    return (await this.client.list<GpuNode>(RESOURCES.gpuNode)).items.filter((n) => this.nodeNames.includes(n.metadata.name ?? ''));
  }

  /** The suite's partitions. */
  async partitions(): Promise<GpuPartition[]> {
    return (await this.client.list<GpuPartition>(RESOURCES.gpuPartition, { namespace: this.namespace })).items;
  }

  /**
   * Problems visible at one moment: a partition slot claimed twice, a job rank spread over two nodes, or an
   * illegal GPU layout.
   */
  problems(nodes: GpuNode[]): string[] {
    const problems: string[] = [];
    for (const node of nodes) {
      for (const gpu of node.spec?.gpus ?? []) {
        if (gpu.mode === 'mig') problems.push(...validateLayout(B200, gpu.slices).map((m) => `${node.metadata.name}/${gpu.index}: ${m}`));
      }
    }
    const seen = new Map<string, string>();
    for (const e of ledgerEntries(nodes).filter((x) => x.claim.namespace === this.namespace)) {
      const key = `${e.claim.kind}/${e.claim.name}/${e.claim.slot}`;
      const prev = seen.get(key);
      // A job rank with several whole GPUs has one entry per GPU, all on one node; a partition slot has one.
      if (prev !== undefined && (e.claim.kind === 'GpuPartition' || prev !== e.node)) problems.push(`${key} claimed twice`);
      seen.set(key, e.node);
    }
    return problems;
  }

  /**
   * Polls the ledgers every `intervalMs` until stopped and keeps every problem seen, so a double allocation the
   * operator later heals still fails the test. Also counts the samples taken.
   */
  watch(intervalMs = 25): { stop(): Promise<{ problems: string[]; samples: number }> } {
    const problems: string[] = [];
    let samples = 0;
    const poll = backgroundPoll(async () => {
      problems.push(...this.problems(await this.gpuNodes()));
      samples++;
    }, intervalMs);
    return {
      async stop() {
        await poll.stop();
        return { problems: [...new Set(problems)], samples };
      },
    };
  }

  /**
   * Checks the ledgers against the given partitions (all Ready): each holds exactly `count` claims with slots
   * 0..count-1 under its current uid, no claim appears twice, every GPU's layout is legal and
   * `status.allocations` lists exactly the ledger's slices. Claims of jobs are checked by {@link expectJobs}.
   */
  async expectPartitions(wanted: Map<string, { profile: string; count: number }>): Promise<void> {
    const nodes = await this.gpuNodes();
    expect(this.problems(nodes)).toEqual([]);
    const entries = ledgerEntries(nodes).filter((e) => e.claim.namespace === this.namespace && e.claim.kind === 'GpuPartition');
    const byName = new Map<string, typeof entries>();
    for (const e of entries) byName.set(e.claim.name, [...(byName.get(e.claim.name) ?? []), e]);
    expect([...byName.keys()].sort()).toEqual([...wanted.keys()].sort());
    for (const p of await this.partitions()) {
      const name = p.metadata.name as string;
      const want = wanted.get(name);
      if (!want) continue;
      const mine = byName.get(name) ?? [];
      expect({ name, phase: p.status?.phase }).toEqual({ name, phase: 'Ready' });
      expect(mine.map((e) => e.claim.slot).sort((a, b) => a - b)).toEqual([...Array(want.count).keys()]);
      expect(mine.every((e) => e.profile === want.profile && e.claim.uid === p.metadata.uid)).toBe(true);
      const fromLedger = mine.map((e) => `${e.claim.slot}@${e.node}/${e.gpuIndex}/${e.start}`).sort();
      const fromStatus = (p.status?.allocations ?? []).map((a) => `${a.slot}@${a.node}/${a.gpuIndex}/${a.start}`).sort();
      expect({ name, allocations: fromStatus }).toEqual({ name, allocations: fromLedger });
    }
  }

  /** Checks that each job holds exactly its gang under its current uid: `replicas` ranks × `gpusPerWorker` GPUs. */
  async expectJobs(jobs: TrainingJob[]): Promise<void> {
    const entries = ledgerEntries(await this.gpuNodes()).filter((e) => e.claim.namespace === this.namespace && e.claim.kind === 'TrainingJob');
    for (const j of jobs) {
      const mine = entries.filter((e) => e.claim.name === j.metadata.name);
      expect({ job: j.metadata.name, uids: [...new Set(mine.map((e) => e.claim.uid))] }).toEqual({ job: j.metadata.name, uids: [j.metadata.uid] });
      const perRank = j.spec.profile ? 1 : (j.spec.gpusPerWorker ?? 1);
      const ranks = new Map<number, string[]>();
      for (const e of mine) ranks.set(e.claim.slot, [...(ranks.get(e.claim.slot) ?? []), e.node]);
      expect([...ranks.keys()].sort((a, b) => a - b)).toEqual([...Array(j.spec.replicas).keys()]);
      for (const [rank, nodes] of ranks) expect({ job: j.metadata.name, rank, gpus: nodes.length, nodes: new Set(nodes).size }).toEqual({ job: j.metadata.name, rank, gpus: perRank, nodes: 1 });
    }
  }

  /** Ledger claims of the namespace left on the suite's nodes. */
  async claimsLeft(): Promise<number> {
    return ledgerEntries(await this.gpuNodes()).filter((e) => e.claim.namespace === this.namespace).length;
  }
}
