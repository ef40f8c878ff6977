/**
 * Public surface of the placement engine: the catalog, `place`, the incremental engine and `planDefrag`.
 */
export * from './types.js';
export { findProfile, listModels, modelForProduct, resolveProfile, validateLayout, type GpuModel, type MigProfile, type SliceNeeds } from './catalog.js';
export { place, placeOn, PlacementEngine, type PlaceOptions } from './engine.js';
export { planDefrag, type DefragOptions } from './defrag.js';
export { PlacementState } from './state.js';
