/**
 * GPU-equivalents as people read them, shared by the page and `kubectl haein`: rounded as GpuTenant status rounds
 * them (3 decimals, so sevenths stay distinguishable), no trailing zeros (`16`, `2.286`). Pure.
 */
import { roundGpuEq } from '../tenancy/gpu-equivalents.js';

/** `x` GPU-equivalents as text. */
export function formatGpuEq(x: number): string {
  return String(roundGpuEq(x));
}
