function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const isInt = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** Problem with a parsed state file, or undefined when it has the `SimState` shape. */
export function stateProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (v.version !== 1) return `unsupported version ${String(v.version)}`;
  if (typeof v.node !== 'string' || typeof v.product !== 'string') return 'node or product missing';
  if (!Array.isArray(v.gpus)) return 'gpus is not a list';
  for (const [i, g] of v.gpus.entries()) {
    if (!isObject(g)) return `gpus[${i}] is not an object`;
    if (g.index !== i) return `gpus[${i}] has index ${String(g.index)}`;
    if (typeof g.uuid !== 'string' || !g.uuid.startsWith('GPU-')) return `gpus[${i}].uuid is invalid`;
    if (g.mode !== 'mig' && g.mode !== 'whole') return `gpus[${i}].mode is invalid`;
    if (g.health !== 'Healthy' && g.health !== 'Unhealthy') return `gpus[${i}].health is invalid`;
    if (!Array.isArray(g.slices)) return `gpus[${i}].slices is not a list`;
    for (const [j, s] of g.slices.entries()) {
      if (!isObject(s) || typeof s.profile !== 'string' || !isInt(s.start) || typeof s.uuid !== 'string') {
        return `gpus[${i}].slices[${j}] is invalid`;
      }
    }
  }
  return undefined;
}

/** Problem with a parsed in-use journal, or undefined when it has the `InUseJournal` shape. */
export function journalProblem(v: unknown): string | undefined {
  if (!isObject(v)) return 'not an object';
  if (v.version !== 1) return `unsupported version ${String(v.version)}`;
  if (typeof v.node !== 'string') return 'node missing';
  if (!Array.isArray(v.held)) return 'held is not a list';
  for (const [i, h] of v.held.entries()) {
    if (!isObject(h) || typeof h.deviceId !== 'string' || !isInt(h.gpu)) return `held[${i}] is invalid`;
    if (h.profile !== undefined && (typeof h.profile !== 'string' || !isInt(h.start))) return `held[${i}] has a bad slice`;
    if (h.pod !== undefined && (!isObject(h.pod) || typeof h.pod.namespace !== 'string' || typeof h.pod.name !== 'string')) return `held[${i}] has a bad pod`;
  }
  return undefined;
}
