/** Minimal object references for Events about claimants known only from a ledger claim. Pure. */
import { API_VERSION } from '../api/constants.js';
import type { ClaimRef } from '../api/types.js';
import type { KubeObject } from '../runtime/ports.js';

/** An object reference built from a ledger claim, enough for an Event's involvedObject. */
export function claimantObject(claim: ClaimRef): KubeObject {
  return { apiVersion: API_VERSION, kind: claim.kind, metadata: { name: claim.name, namespace: claim.namespace, uid: claim.uid } };
}
