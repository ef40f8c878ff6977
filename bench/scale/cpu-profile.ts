/**
 * Summary of a V8 `.cpuprofile` (written by `node --cpu-prof`): where the operator spent its CPU, by function,
 * as self time and as inclusive time (the function and everything it called). Pure.
 */

/** The parts of a `.cpuprofile` this summary reads. */
export interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }>;
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** CPU time of one function, in milliseconds, and its share of the profile. */
export interface FunctionTime {
  fn: string;
  ms: number;
  share: number;
}

/** Function label: `name (file:line)` with the path shortened to the repository-relative part. */
function label(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const file = cf.url.replace(/^file:\/\//, '').replace(/^.*\/(dist|node_modules)\//, '$1/');
  const name = cf.functionName || '(anonymous)';
  return file ? `${name} (${file}:${cf.lineNumber + 1})` : name;
}

/** Busy (non-idle) time, and self and inclusive time per function, each sorted by time, at most `top` entries. */
export function summarizeProfile(p: CpuProfile, top = 15, window?: { fromMs: number; toMs: number }): { totalMs: number; self: FunctionTime[]; inclusive: FunctionTime[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Self time per node: the time deltas of the samples that landed in it.
  const selfUs = new Map<number, number>();
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  let at = 0;
  for (let i = 0; i < samples.length; i++) {
    at += deltas[i] ?? 0;
    // Only samples inside the window (milliseconds since the profile started), when one is given.
    if (window && (at / 1000 < window.fromMs || at / 1000 >= window.toMs)) continue;
    const id = samples[i] as number;
    // A sample's duration is the gap to the next sample.
    const dt = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, dt));
  }
  const self = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const n = byId.get(id);
    if (n) self.set(label(n.callFrame), (self.get(label(n.callFrame)) ?? 0) + us);
  }
  // Shares are of the busy time: idle samples are the event loop waiting.
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0) - (self.get('(idle)') ?? 0);
  // Inclusive time per function; a function already on the path (recursion) is not counted twice.
  const inclusive = new Map<string, number>();
  const subtree = new Map<number, number>();
  const sizeOf = (id: number): number => {
    const cached = subtree.get(id);
    if (cached !== undefined) return cached;
    const n = byId.get(id);
    let t = selfUs.get(id) ?? 0;
    for (const c of n?.children ?? []) t += sizeOf(c);
    subtree.set(id, t);
    return t;
  };
  const root = p.nodes[0];
  const walk = (id: number, onPath: Set<string>): void => {
    const n = byId.get(id);
    if (!n) return;
    const l = label(n.callFrame);
    const fresh = !onPath.has(l);
    if (fresh) {
      inclusive.set(l, (inclusive.get(l) ?? 0) + sizeOf(id));
      onPath.add(l);
    }
    for (const c of n.children ?? []) walk(c, onPath);
    if (fresh) onPath.delete(l);
  };
  if (root) walk(root.id, new Set());
  const rank = (m: Map<string, number>): FunctionTime[] =>
    [...m]
      .filter(([fn]) => !['(root)', '(program)', '(idle)'].includes(fn))
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([fn, us]) => ({ fn, ms: us / 1000, share: total > 0 ? us / total : 0 }));
  return { totalMs: total / 1000, self: rank(self), inclusive: rank(inclusive) };
}
