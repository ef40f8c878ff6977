/** Left-aligned text columns, as kubectl prints them. Pure. */

/** Pads every column but the last to its widest cell, with three spaces between columns. */
export function formatTable(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => [...(r[c] ?? '')].length)));
  return all.map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] as number + (cell.length - [...cell].length)))).join('   ').trimEnd()).join('\n');
}
