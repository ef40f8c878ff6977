/**
 * GPU-equivalents as people read them, shared by the page and `kubectl haein`: at most 3 decimals (sevenths stay
 * distinguishable, as in GpuTenant status), no trailing zeros (`16`, `2.286`). Pure.
 */
export function formatGpuEq(x: number): string {
  return String(Math.round(x * 1000) / 1000);
}
