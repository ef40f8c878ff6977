/**
 * Pods on the node-mode node: create one, wait for a phase, read its logs (through the API server, or straight
 * from the kubelet's log files when the API server cannot reach the kubelet).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, kubectl } from '../../support/cluster.js';
import { latestLogFile, parseCriLog } from './cri-log.js';
import { readNodeModeEnv } from './node-mode.js';

/** What a test pod needs; everything else gets test-friendly defaults. */
export interface TestPodSpec {
  name: string;
  image: string;
  command: string[];
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** Resource limits, e.g. { 'nvidia.com/mig-1g.23gb': '1' } (extended resources need limits). */
  limits?: Record<string, string>;
  schedulingGates?: string[];
  nodeName?: string;
  restartPolicy?: 'Never' | 'OnFailure' | 'Always';
}

/** Minimal subset of a Pod as read back from the API. */
export interface PodView {
  metadata: { name: string; namespace: string; uid: string; labels?: Record<string, string> };
  spec: { nodeName?: string; schedulingGates?: Array<{ name: string }>; containers: Array<{ name: string; env?: Array<{ name: string; value?: string }> }> };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    containerStatuses?: Array<{ name: string; restartCount?: number; containerID?: string }>;
  };
}

/** Builds the Pod manifest for a TestPodSpec (pure). */
export function podManifest(ns: string, spec: TestPodSpec): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: spec.name, namespace: ns, labels: spec.labels ?? {} },
    spec: {
      restartPolicy: spec.restartPolicy ?? 'Never',
      terminationGracePeriodSeconds: 2,
      ...(spec.nodeName ? { nodeName: spec.nodeName } : {}),
      ...(spec.schedulingGates ? { schedulingGates: spec.schedulingGates.map((name) => ({ name })) } : {}),
      containers: [
        {
          name: 'main',
          image: spec.image,
          // Local images only: there is no registry to pull from.
          imagePullPolicy: 'Never',
          command: spec.command,
          env: Object.entries(spec.env ?? {}).map(([name, value]) => ({ name, value })),
          ...(spec.limits ? { resources: { limits: spec.limits } } : {}),
        },
      ],
    },
  };
}

/** Creates the pod. */
export async function createPod(ns: string, spec: TestPodSpec): Promise<void> {
  await kubectl(['create', '-f', '-'], { input: JSON.stringify(podManifest(ns, spec)) });
}

/** Reads a pod, or undefined when it does not exist. */
export async function getPod(ns: string, name: string): Promise<PodView | undefined> {
  const out = await kubectl(['get', 'pod', '-n', ns, name, '-o', 'json', '--ignore-not-found']);
  return out.trim() === '' ? undefined : (JSON.parse(out) as PodView);
}

/** Waits until the pod reaches one of `phases` (fails early when it reaches an unexpected terminal phase). */
export async function waitForPhase(ns: string, name: string, phases: string[], timeoutMs = 90_000): Promise<PodView> {
  return eventually(
    async () => {
      const pod = await getPod(ns, name);
      const phase = pod?.status.phase;
      if (pod && phase && phases.includes(phase)) return pod;
      if (phase === 'Failed' || phase === 'Succeeded') {
        throw new Error(`pod ${ns}/${name} ended ${phase}, expected ${phases.join('|')}`);
      }
      return undefined;
    },
    { timeoutMs, what: `pod ${ns}/${name} phase ${phases.join('|')}` },
  );
}

/** Logs of a pod's container read from the kubelet's files (root, same host). */
export function podLogsFromFiles(ns: string, name: string, uid: string, container = 'main'): string {
  const env = readNodeModeEnv();
  if (!env) throw new Error('node mode is not up: no kubelet log files to read');
  const dir = join(env.podLogDir, `${ns}_${name}_${uid}`, container);
  const file = latestLogFile(readdirSync(dir));
  if (!file) throw new Error(`no log file in ${dir}`);
  return parseCriLog(readFileSync(join(dir, file), 'utf8'));
}

/**
 * Logs of a pod's container. Tries `kubectl logs` first; if the API server cannot reach the kubelet (it dials
 * the node's hostname unless told to prefer InternalIP), falls back to the kubelet's log files.
 */
export async function podLogs(ns: string, name: string, container = 'main'): Promise<string> {
  try {
    return await kubectl(['logs', '-n', ns, name, '-c', container]);
  } catch (err) {
    const pod = await getPod(ns, name);
    if (!pod) throw new Error(`pod ${ns}/${name} not found while reading its logs`, { cause: err });
    return podLogsFromFiles(ns, name, pod.metadata.uid, container);
  }
}

/** Creates a pod, waits for it to finish and returns its phase and logs. */
export async function runPodToCompletion(ns: string, spec: TestPodSpec, timeoutMs = 90_000): Promise<{ phase: string; logs: string }> {
  await createPod(ns, spec);
  const pod = await eventually(
    async () => {
      const p = await getPod(ns, spec.name);
      return p && (p.status.phase === 'Succeeded' || p.status.phase === 'Failed') ? p : undefined;
    },
    { timeoutMs, what: `pod ${ns}/${spec.name} to finish` },
  );
  return { phase: pod.status.phase ?? 'Unknown', logs: await podLogs(ns, spec.name) };
}

/** Parses `KEY=VALUE` lines printed by a test container (e.g. `env`), last one wins (pure). */
export function envFromLogs(logs: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of logs.split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]] = m[2];
  }
  return out;
}
