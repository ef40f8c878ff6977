/** The headless Service that gives every worker of a TrainingJob a stable DNS name (`<job>-<rank>.<job>`). Pure. */
import { JOB_LABEL } from '../../api/constants.js';
import type { TrainingJob } from '../../api/types.js';
import { DEFAULT_MASTER_PORT, ownerRef } from './worker-pods.js';

/** A core/v1 Service subset. */
export interface ServiceObject {
  apiVersion: 'v1';
  kind: 'Service';
  metadata: { name: string; namespace: string; labels?: Record<string, string>; ownerReferences?: unknown[]; resourceVersion?: string };
  spec: { clusterIP: 'None'; selector: Record<string, string>; publishNotReadyAddresses: boolean; ports: Array<{ name: string; port: number; targetPort: number }> };
}

/** The job's headless Service, named after the job (the pods' subdomain). */
export function buildHeadlessService(job: TrainingJob): ServiceObject {
  const name = job.metadata.name as string;
  const port = job.spec.masterPort ?? DEFAULT_MASTER_PORT;
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace: job.metadata.namespace as string, labels: { [JOB_LABEL]: name }, ownerReferences: [ownerRef(job)] },
    spec: {
      clusterIP: 'None',
      selector: { [JOB_LABEL]: name },
      // Rendezvous happens before containers are Ready, so addresses must resolve while pods start.
      publishNotReadyAddresses: true,
      ports: [{ name: 'rendezvous', port, targetPort: port }],
    },
  };
}
