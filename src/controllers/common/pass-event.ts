/** An Event a reconcile pass decided to record. Pure data. */
import type { KubeObject } from '../../runtime/ports.js';

/** An Event of the pass, on `obj` when given, else on the reconciled object. */
export interface PassEvent {
  obj?: KubeObject;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}
