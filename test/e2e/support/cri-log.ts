/**
 * Reader for the kubelet's container log files (CRI format), used when `kubectl logs` cannot reach the kubelet.
 * Pure: no I/O.
 */

/**
 * Rebuilds a stream's text from CRI log lines `<RFC3339 time> <stdout|stderr> <P|F> <content>`. `P` marks a
 * partial line that continues in the next entry; `F` ends a line. Lines that do not match are kept verbatim
 * (a truncated last write must not hide the rest).
 */
export function parseCriLog(text: string, stream?: 'stdout' | 'stderr'): string {
  const out: string[] = [];
  let pending = '';
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const m = /^(\S+) (stdout|stderr) ([PF]) ?(.*)$/.exec(line);
    if (!m) {
      out.push(pending + line);
      pending = '';
      continue;
    }
    if (stream && m[2] !== stream) continue;
    if (m[3] === 'P') {
      pending += m[4];
    } else {
      out.push(pending + m[4]);
      pending = '';
    }
  }
  if (pending !== '') out.push(pending);
  return out.length > 0 ? `${out.join('\n')}\n` : '';
}

/** Picks the newest log of a container directory's `<restart>.log` files (highest restart count). */
export function latestLogFile(names: string[]): string | undefined {
  return names
    .map((n) => ({ n, m: /^(\d+)\.log$/.exec(n) }))
    .filter((x): x is { n: string; m: RegExpExecArray } => x.m !== null)
    .sort((a, b) => Number(b.m[1]) - Number(a.m[1]))[0]?.n;
}
