/** Parsing of Kubernetes memory quantities (e.g. `40Gi`, `90G`, `1024Mi`) into MiB. Pure. */

const SUFFIX: Record<string, number> = {
  '': 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
};

/** MiB in a memory quantity, rounded up; undefined when the text is not a quantity. */
export function quantityToMiB(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)([KMGTP]i|[kMGTP])?\s*$/.exec(text);
  if (!m) return undefined;
  const factor = SUFFIX[m[2] ?? ''];
  if (factor === undefined) return undefined;
  return Math.ceil((Number(m[1]) * factor) / 2 ** 20);
}
