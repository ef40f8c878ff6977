import { NODE_LABELS } from '../api/constants.js';
import type { GpuInventory } from '../api/types.js';

/** Node labels in the style of GPU feature discovery for a node's inventory (mixed MIG strategy). */
export function nodeLabels(inventory: GpuInventory): Record<string, string> {
  const labels: Record<string, string> = {
    [NODE_LABELS.product]: inventory.product,
    [NODE_LABELS.count]: String(inventory.gpuCount),
    [NODE_LABELS.memory]: String(inventory.memoryMiB),
    [NODE_LABELS.migCapable]: String(inventory.migCapable),
  };
  if (inventory.migCapable) labels[NODE_LABELS.migStrategy] = 'mixed';
  if (inventory.clique) labels[NODE_LABELS.clique] = inventory.clique;
  return labels;
}
