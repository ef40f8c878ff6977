/** Validation of a GpuPartition spec that the CRD schema cannot express. Pure. */
import { ADMISSION_REASONS } from '../../api/conditions.js';
import { quantityToMiB } from '../../api/quantity.js';
import type { GpuPartition } from '../../api/types.js';
import { findProfile, listModels, modelForProduct, type GpuModel } from '../../placement/catalog.js';

/** Why a spec cannot be satisfied as written. */
export interface InvalidSpec {
  reason: string;
  message: string;
}

/**
 * A profile no candidate model knows, or an unparsable memory size. `presentProducts` are the GPU products the
 * cluster's nodes report: without `gpuProducts` in the spec the partition may land on any MIG-capable one.
 */
export function validatePartition(p: GpuPartition, presentProducts: Iterable<string>): InvalidSpec | undefined {
  if (p.spec.memory !== undefined && quantityToMiB(p.spec.memory) === undefined) {
    return { reason: ADMISSION_REASONS.invalidRequest, message: `memory ${JSON.stringify(p.spec.memory)} is not a quantity` };
  }
  if (!p.spec.profile) return undefined;
  const models = candidateModels(p, presentProducts);
  if (models.length === 0) return undefined;
  if (models.some((m) => findProfile(m, p.spec.profile as string))) return undefined;
  return {
    reason: ADMISSION_REASONS.unknownProfile,
    message: `profile ${p.spec.profile} does not exist on ${models.map((m) => m.product).join(', ')}; valid profiles: ${[
      ...new Set(models.flatMap((m) => m.profiles.map((x) => x.name))),
    ].join(', ')}`,
  };
}

/** Models the partition may land on: its gpuProducts, else the MIG-capable models present (else all known). */
function candidateModels(p: GpuPartition, presentProducts: Iterable<string>): GpuModel[] {
  if (p.spec.gpuProducts && p.spec.gpuProducts.length > 0) {
    return p.spec.gpuProducts.map((x) => modelForProduct(x)).filter((m) => m !== undefined);
  }
  const present = new Map<string, GpuModel>();
  for (const product of presentProducts) {
    const m = modelForProduct(product);
    if (m?.migCapable) present.set(m.product, m);
  }
  return present.size > 0 ? [...present.values()] : listModels().filter((m) => m.migCapable);
}
