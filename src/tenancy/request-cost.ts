/**
 * The quota cost of a placement request before it is placed, in GPU-equivalents and slices per profile: exact
 * for a named profile or whole GPUs; for a request by memory/compute, the profile each candidate GPU model would
 * give it, taking the dearest (so the check never admits more than the quota). Pure.
 */
import { findProfile, modelForProduct, resolveProfile } from '../placement/catalog.js';
import type { PlacementRequest } from '../placement/types.js';
import { accountingProfile, gpuEquivalentsOf } from './gpu-equivalents.js';
import type { QuotaCost } from './quota-book.js';

/** The cost of `request` on a cluster of `products` (the GPU products its nodes report). */
export function requestCost(request: PlacementRequest, products: Iterable<string>): QuotaCost {
  const allowed = request.constraints?.products?.length ? new Set(request.constraints.products) : undefined;
  const models = [...new Set(products)].filter((p) => !allowed || allowed.has(p)).map((p) => modelForProduct(p)).filter((m) => m !== undefined);
  const byProfile = new Map<string, number>();
  let gpuEq = 0;
  for (const m of request.members) {
    if (m.kind === 'whole') {
      gpuEq += m.gpus;
      byProfile.set('whole', (byProfile.get('whole') ?? 0) + m.gpus);
      continue;
    }
    let profile = m.profile;
    if (!profile) {
      // The dearest profile any candidate model resolves the needs to.
      const resolved = models.map((model) => resolveProfile(model, { ...(m.memoryMiB !== undefined ? { memoryMiB: m.memoryMiB } : {}), ...(m.computeSlices !== undefined ? { computeSlices: m.computeSlices } : {}) })).filter((p) => p !== undefined);
      profile = resolved.sort((a, b) => b.computeSlices - a.computeSlices)[0]?.name;
    } else if (models.length > 0 && !models.some((model) => findProfile(model, profile as string))) {
      profile = undefined;
    }
    const key = profile ? accountingProfile(profile) : `${m.computeSlices ?? 7}g`;
    gpuEq += profile ? gpuEquivalentsOf(profile) : Math.min(1, (m.computeSlices ?? 7) / 7);
    byProfile.set(key, (byProfile.get(key) ?? 0) + 1);
  }
  return { gpuEq, byProfile };
}
