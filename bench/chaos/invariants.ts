/**
 * The chaos run's invariant checker. Pure: it is fed samples (GpuNode objects, the agent's state files and in-use
 * journals, the partitions, jobs and pods) and reports violations; the harness does the reading.
 *
 * All through the run:
 * - `slice-claimed-twice`: two claimed slices of one GPU's target layout share a memory slot (or a slice is
 *   listed twice) — one piece of hardware promised to two holders;
 * - `in-use-destroyed`: a device a container holds disappeared: a slice or whole GPU reported in use (with its
 *   pod) in GpuNode status is gone while that pod was still alive, or a device the agent's in-use journal lists
 *   (before and after reading the state file) is missing from the agent's state file;
 * - `holder-changed`: a device in use by one pod is reported in use by another while the first is alive (a
 *   running container never changes device).
 * After the churn has settled:
 * - `orphan-claim`: a ledger claim whose owner is gone, deleted, or another object of the same name;
 * - `not-ready`: a surviving partition not Ready or job not Running;
 * - `wrong-count`: a surviving object whose ledger claims (or status) do not match its count exactly;
 * - `used-by-other`: a device in use by a pod of one object while the ledger gives it to another (or to nobody).
 * After the final deletes: `not-released`: any claim, object or pod of the run left behind.
 * From the audit log (see audit.ts): `stale-ledger-write`, `stale-write`.
 */
import type { GpuNode, GpuPartition, TrainingJob } from '../../src/api/types.js';
import { findProfile, modelForProduct, slotMask } from '../../src/placement/catalog.js';

/** Every kind of violation. */
export const VIOLATION_KINDS = ['slice-claimed-twice', 'in-use-destroyed', 'holder-changed', 'orphan-claim', 'not-ready', 'wrong-count', 'used-by-other', 'not-released', 'stale-ledger-write', 'stale-write'] as const;
/** One kind of violation. */
export type ViolationKind = (typeof VIOLATION_KINDS)[number];

/** One violation found; `key` identifies it, so a state seen in many samples counts once. */
export interface Found {
  kind: ViolationKind;
  key: string;
  detail: string;
}

const B200 = modelForProduct('NVIDIA-B200')!;

/** `slice-claimed-twice`: claimed slices of one GPU that overlap in memory slots, or one GPU listed twice. */
export function ledgerViolations(nodes: readonly GpuNode[]): Found[] {
  const out: Found[] = [];
  for (const n of nodes) {
    const name = n.metadata.name ?? '?';
    const model = modelForProduct(n.status?.inventory?.product ?? '') ?? B200;
    const seen = new Set<number>();
    for (const gpu of n.spec?.gpus ?? []) {
      if (seen.has(gpu.index)) {
        out.push({ kind: 'slice-claimed-twice', key: `slice-claimed-twice:${name}/${gpu.index}:listed-twice`, detail: `GpuNode ${name} lists GPU ${gpu.index} twice in its target layout` });
      }
      seen.add(gpu.index);
      if (gpu.mode === 'whole' && gpu.claim && gpu.slices.some((s) => s.claim)) {
        out.push({ kind: 'slice-claimed-twice', key: `slice-claimed-twice:${name}/${gpu.index}:whole`, detail: `GPU ${name}/${gpu.index} is claimed whole by ${claimText(gpu.claim)} and has claimed slices` });
      }
      const slices = gpu.slices.map((s) => ({ s, mask: maskOf(model, s.profile, s.start) }));
      for (let i = 0; i < slices.length; i++) {
        for (let j = i + 1; j < slices.length; j++) {
          const a = slices[i]!;
          const b = slices[j]!;
          if ((a.mask & b.mask) === 0 || (!a.s.claim && !b.s.claim)) continue;
          out.push({
            kind: 'slice-claimed-twice',
            key: `slice-claimed-twice:${name}/${gpu.index}@${a.s.start}/${b.s.start}`,
            detail: `GPU ${name}/${gpu.index}: ${a.s.profile}@${a.s.start} (${claimText(a.s.claim)}) overlaps ${b.s.profile}@${b.s.start} (${claimText(b.s.claim)})`,
          });
        }
      }
    }
  }
  return out;
}

function maskOf(model: typeof B200, profile: string, start: number): number {
  const p = findProfile(model, profile);
  // An unknown profile is taken to cover the whole GPU: better a false alarm than a missed double claim.
  return p ? slotMask(p, start) : 0xff;
}

function claimText(c: { kind: string; namespace: string; name: string; slot: number } | undefined): string {
  return c ? `${c.kind} ${c.namespace}/${c.name}#${c.slot}` : 'free';
}

/** When the harness first saw a pod being deleted (or gone); absent while the pod is alive. */
export type PodDeletions = ReadonlyMap<string, number | undefined>;

interface HeldSighting {
  node: string;
  pod: string;
  /** Last sample in which the device was realised and in use. */
  lastSeenAt: number;
}

/**
 * `in-use-destroyed` from GpuNode status over time: remembers every device reported in use with its pod; when a
 * later status no longer realises it, the pod must have been on its way out by then. Judged `graceMs` later, so
 * that the harness's pod watch has caught up with the node's status.
 */
export class InUseStatusTracker {
  private readonly held = new Map<string, HeldSighting>();
  private readonly vanished: Array<HeldSighting & { uuid: string; goneAt: number; to?: string }> = [];

  constructor(private readonly graceMs = 5_000) {}

  /** Feeds one sample of GpuNodes taken at `at` (ms). */
  observe(nodes: readonly GpuNode[], at: number): void {
    const realised = new Map<string, Set<string>>();
    for (const n of nodes) {
      const name = n.metadata.name ?? '?';
      const here = new Set<string>();
      for (const g of n.status?.gpus ?? []) {
        if (g.mode === 'whole') {
          here.add(g.uuid);
          if (g.inUse && g.pod) this.sight(g.uuid, name, `${g.pod.namespace}/${g.pod.name}`, at);
        }
        for (const s of g.slices) {
          here.add(s.uuid);
          if (s.inUse && s.pod) this.sight(s.uuid, name, `${s.pod.namespace}/${s.pod.name}`, at);
        }
      }
      realised.set(name, here);
    }
    for (const [uuid, h] of this.held) {
      const here = realised.get(h.node);
      // A node missing from the sample tells nothing; a node that no longer realises the device does.
      if (!here || here.has(uuid)) continue;
      this.vanished.push({ ...h, uuid, goneAt: at });
      this.held.delete(uuid);
    }
    // A device still realised but no longer in use is released: forget it.
    for (const n of nodes) {
      for (const g of n.status?.gpus ?? []) {
        if (g.mode === 'whole' && !g.inUse) this.held.delete(g.uuid);
        for (const s of g.slices) if (!s.inUse) this.held.delete(s.uuid);
      }
    }
  }

  /** A device seen in use by `pod`; another holder than last time is judged like a vanished device. */
  private sight(uuid: string, node: string, pod: string, at: number): void {
    const before = this.held.get(uuid);
    if (before && before.pod !== pod) this.vanished.push({ ...before, uuid, goneAt: at, to: pod });
    this.held.set(uuid, { node, pod, lastSeenAt: at });
  }

  /**
   * Violations among the vanished (or re-held) devices old enough to judge: the pod was not being deleted when the device
   * was last seen in use (a pod whose deletion started after that may have lost its device before; one whose
   * deletion the harness saw only after the device was gone, or never, did lose it).
   */
  judge(deletions: PodDeletions, now: number): Found[] {
    const out: Found[] = [];
    for (let i = this.vanished.length - 1; i >= 0; i--) {
      const v = this.vanished[i]!;
      if (now - v.goneAt < this.graceMs) continue;
      this.vanished.splice(i, 1);
      const deletingSince = deletions.get(v.pod);
      if (deletingSince !== undefined && deletingSince <= v.goneAt) continue;
      if (v.to) {
        out.push({
          kind: 'holder-changed',
          key: `holder-changed:${v.node}/${v.uuid}:${v.pod}`,
          detail: `device ${v.uuid} on ${v.node}, in use by pod ${v.pod}, was reported in use by ${v.to} at ${new Date(v.goneAt).toISOString()} while ${v.pod} ${deletingSince === undefined ? 'was still alive' : `was deleted only at ${new Date(deletingSince).toISOString()}`}`,
        });
        continue;
      }
      out.push({
        kind: 'in-use-destroyed',
        key: `in-use-destroyed:${v.node}/${v.uuid}`,
        detail: `device ${v.uuid} on ${v.node}, in use by pod ${v.pod}, was gone at ${new Date(v.goneAt).toISOString()} while the pod ${deletingSince === undefined ? 'was still alive' : `was deleted only at ${new Date(deletingSince).toISOString()}`}`,
      });
    }
    return out;
  }
}

/** What the agent's files say about one node: the in-use journal read before and after the state file. */
export interface AgentFiles {
  node: string;
  journalBefore?: ReadonlySet<string>;
  /** Realised device IDs in the state file: whole-mode GPU UUIDs and MIG slice UUIDs; absent when unreadable. */
  realised?: ReadonlySet<string>;
  journalAfter?: ReadonlySet<string>;
}

/**
 * `in-use-destroyed` from the agent's own files: a device held in both journal reads must be realised in the
 * state file read between them. A missing or unreadable file (e.g. the one the run corrupts, until the agent has
 * rebuilt it) tells nothing.
 */
export function fileViolations(files: AgentFiles): Found[] {
  const { journalBefore, realised, journalAfter, node } = files;
  if (!journalBefore || !realised || !journalAfter) return [];
  const out: Found[] = [];
  for (const id of journalBefore) {
    if (!journalAfter.has(id) || realised.has(id)) continue;
    out.push({ kind: 'in-use-destroyed', key: `in-use-destroyed:${node}/${id}`, detail: `device ${id} on ${node} is in the agent's in-use journal but not in its state file` });
  }
  return out;
}

/** Device IDs a state file realises: whole-mode GPU UUIDs and every MIG instance UUID. */
export function realisedIds(state: { gpus?: Array<{ uuid: string; mode: string; slices?: Array<{ uuid: string }> }> }): Set<string> {
  const out = new Set<string>();
  for (const g of state.gpus ?? []) {
    if (g.mode === 'whole') out.add(g.uuid);
    for (const s of g.slices ?? []) out.add(s.uuid);
  }
  return out;
}

/** Claims in the ledger, per owner uid: how many GPUs or slices, and which slots. */
export function claimsByOwner(nodes: readonly GpuNode[]): Map<string, { kind: string; namespace: string; name: string; units: number; slots: Map<number, number>; where: string[] }> {
  const out = new Map<string, { kind: string; namespace: string; name: string; units: number; slots: Map<number, number>; where: string[] }>();
  const add = (c: { kind: string; namespace: string; name: string; uid: string; slot: number }, where: string): void => {
    const e = out.get(c.uid) ?? { kind: c.kind, namespace: c.namespace, name: c.name, units: 0, slots: new Map<number, number>(), where: [] };
    e.units++;
    e.slots.set(c.slot, (e.slots.get(c.slot) ?? 0) + 1);
    e.where.push(where);
    out.set(c.uid, e);
  };
  for (const n of nodes) {
    for (const g of n.spec?.gpus ?? []) {
      if (g.claim) add(g.claim, `${n.metadata.name}/${g.index}`);
      for (const s of g.slices) if (s.claim) add(s.claim, `${n.metadata.name}/${g.index}@${s.start}`);
    }
  }
  return out;
}

/** The objects a settled check looks at. */
export interface SettledInput {
  nodes: readonly GpuNode[];
  partitions: readonly GpuPartition[];
  jobs: readonly TrainingJob[];
  /** Only claims of these namespaces are judged (other tenants may share the cluster). */
  namespaces: ReadonlySet<string>;
  /** The object each known pod belongs to (`namespace/pod` → `Kind/name`): partition consumers and job workers. */
  podOwners?: ReadonlyMap<string, string>;
}

/**
 * After settling: every surviving object Ready/Running with exactly its count in the ledger and in status, and no
 * claim without a live owner. Returns nothing when the cluster has converged.
 */
export function settledViolations(input: SettledInput): Found[] {
  const out: Found[] = [];
  const claims = claimsByOwner(input.nodes);
  const owners = new Map<string, GpuPartition | TrainingJob>();
  for (const o of [...input.partitions, ...input.jobs]) if (o.metadata.uid && !o.metadata.deletionTimestamp) owners.set(o.metadata.uid, o);
  for (const [uid, c] of claims) {
    if (!input.namespaces.has(c.namespace) || owners.has(uid)) continue;
    out.push({ kind: 'orphan-claim', key: `orphan-claim:${uid}`, detail: `${c.kind} ${c.namespace}/${c.name} (uid ${uid}) is gone or deleting but holds ${c.units} claim(s): ${c.where.slice(0, 4).join(', ')}` });
  }
  for (const p of input.partitions) {
    if (p.metadata.deletionTimestamp || !input.namespaces.has(p.metadata.namespace ?? '')) continue;
    const id = `${p.metadata.namespace}/${p.metadata.name}`;
    const count = p.spec.count ?? 1;
    if (p.status?.phase !== 'Ready') out.push({ kind: 'not-ready', key: `not-ready:GpuPartition:${id}`, detail: `GpuPartition ${id} is ${p.status?.phase ?? 'without status'}${reasonOf(p.status?.conditions)}` });
    const c = claims.get(p.metadata.uid ?? '');
    const slotsOk = c !== undefined && c.units === count && [...Array(count).keys()].every((s) => c.slots.get(s) === 1);
    const statusOk = (p.status?.allocations?.length ?? 0) === count;
    if (!slotsOk || !statusOk) {
      out.push({ kind: 'wrong-count', key: `wrong-count:GpuPartition:${id}`, detail: `GpuPartition ${id} wants ${count}; ledger holds ${c?.units ?? 0} (slots ${[...(c?.slots ?? new Map<number, number>()).entries()].map(([s, n]) => (n > 1 ? `${s}×${n}` : s)).join(',')}), status lists ${p.status?.allocations?.length ?? 0}` });
    }
  }
  for (const j of input.jobs) {
    if (j.metadata.deletionTimestamp || !input.namespaces.has(j.metadata.namespace ?? '')) continue;
    const id = `${j.metadata.namespace}/${j.metadata.name}`;
    if (j.status?.phase !== 'Running') out.push({ kind: 'not-ready', key: `not-ready:TrainingJob:${id}`, detail: `TrainingJob ${id} is ${j.status?.phase ?? 'without status'}${reasonOf(j.status?.conditions)}` });
    const perWorker = j.spec.gpusPerWorker ?? 1;
    const want = j.spec.replicas * perWorker;
    const c = claims.get(j.metadata.uid ?? '');
    const ranksOk = c !== undefined && c.units === want && [...Array(j.spec.replicas).keys()].every((r) => c.slots.get(r) === perWorker);
    if (!ranksOk || (j.status?.workers?.length ?? 0) !== j.spec.replicas) {
      out.push({ kind: 'wrong-count', key: `wrong-count:TrainingJob:${id}`, detail: `TrainingJob ${id} wants ${j.spec.replicas} worker(s) × ${perWorker}; ledger holds ${c?.units ?? 0}, status lists ${j.status?.workers?.length ?? 0} worker(s)` });
    }
  }
  out.push(...usedByOther(input));
  return out;
}

/** In-use devices whose pod belongs to another object than the ledger claim on that device. */
function usedByOther(input: SettledInput): Found[] {
  const out: Found[] = [];
  const owners = input.podOwners;
  if (!owners) return out;
  for (const n of input.nodes) {
    const name = n.metadata.name ?? '?';
    const target = new Map((n.spec?.gpus ?? []).map((g) => [g.index, g]));
    for (const g of n.status?.gpus ?? []) {
      const t = target.get(g.index);
      const held: Array<{ where: string; pod: { namespace: string; name: string }; claim?: { kind: string; name: string } }> = [];
      if (g.mode === 'whole' && g.inUse && g.pod) held.push({ where: `${name}/${g.index}`, pod: g.pod, claim: t?.claim });
      for (const s of g.slices) {
        if (s.inUse && s.pod) held.push({ where: `${name}/${g.index}@${s.start}`, pod: s.pod, claim: t?.slices.find((x) => x.start === s.start && x.profile === s.profile)?.claim });
      }
      for (const h of held) {
        if (!input.namespaces.has(h.pod.namespace)) continue;
        const owner = owners.get(`${h.pod.namespace}/${h.pod.name}`);
        if (!owner) continue;
        const claimed = h.claim ? `${h.claim.kind}/${h.claim.name}` : 'nobody';
        if (claimed === owner) continue;
        out.push({ kind: 'used-by-other', key: `used-by-other:${h.where}`, detail: `device ${h.where} is in use by pod ${h.pod.namespace}/${h.pod.name} of ${owner} but the ledger gives it to ${claimed}` });
      }
    }
  }
  return out;
}

function reasonOf(conditions: Array<{ status: string; reason: string; message?: string }> | undefined): string {
  const c = (conditions ?? []).find((x) => x.status === 'False');
  return c ? ` (${c.reason}: ${(c.message ?? '').slice(0, 160)})` : '';
}

/** After the final deletes: nothing of the run's namespaces may remain. */
export function releasedViolations(input: { nodes: readonly GpuNode[]; namespaces: ReadonlySet<string>; objectsLeft: number; podsLeft: number }): Found[] {
  const out: Found[] = [];
  for (const [uid, c] of claimsByOwner(input.nodes)) {
    if (input.namespaces.has(c.namespace)) out.push({ kind: 'not-released', key: `not-released:${uid}`, detail: `${c.kind} ${c.namespace}/${c.name} still holds ${c.units} claim(s) after the final deletes` });
  }
  if (input.objectsLeft > 0) out.push({ kind: 'not-released', key: 'not-released:objects', detail: `${input.objectsLeft} partition(s)/job(s) still exist after the final deletes` });
  if (input.podsLeft > 0) out.push({ kind: 'not-released', key: 'not-released:pods', detail: `${input.podsLeft} pod(s) still exist after the final deletes` });
  return out;
}

/** Violations found so far, each counted once however many samples showed it. */
export class ViolationLog {
  private readonly found = new Map<string, Found & { firstAt: number }>();

  /** Records findings made at `at` (ms); returns the new ones. */
  add(found: readonly Found[], at: number): Found[] {
    const fresh: Found[] = [];
    for (const f of found) {
      if (this.found.has(f.key)) continue;
      this.found.set(f.key, { ...f, firstAt: at });
      fresh.push(f);
    }
    return fresh;
  }

  /** Total distinct violations. */
  get size(): number {
    return this.found.size;
  }

  /** Distinct violations per kind (every kind present, 0 when none). */
  byKind(): Record<ViolationKind, number> {
    const out = Object.fromEntries(VIOLATION_KINDS.map((k) => [k, 0])) as Record<ViolationKind, number>;
    for (const f of this.found.values()) out[f.kind]++;
    return out;
  }

  /** The violations, oldest first. */
  list(): Array<Found & { firstAt: number }> {
    return [...this.found.values()].sort((a, b) => a.firstAt - b.firstAt);
  }
}
