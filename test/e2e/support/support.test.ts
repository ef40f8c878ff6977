/**
 * Tests of the e2e support helpers that need no cluster: node env file parsing, CRI log reading (including the
 * file fallback against a fake kubelet log tree), pod manifests and the allocatable a realised layout implies.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestLogFile, parseCriLog } from './cri-log.js';
import { parseEnvFile, toNodeModeEnv } from './env-file.js';
import { expectedAllocatable, readNodeModeEnv } from './node-mode.js';
import { envFromLogs, podLogsFromFiles, podManifest } from './pods.js';

function envText(overrides: Record<string, string> = {}): string {
  const base: Record<string, string> = {
    HAEIN_NODE_NAME: 'haein-b200-0',
    HAEIN_NODE_IP: '192.0.2.2',
    HAEIN_NODE_GPUS: '8',
    HAEIN_NODE_MODEL: 'NVIDIA-B200',
    HAEIN_NODE_AGENT: 'host',
    HAEIN_DEVICE_PLUGIN_DIR: '/s/kubelet/device-plugins',
    HAEIN_POD_RESOURCES_SOCKET: '/s/kubelet/pod-resources/kubelet.sock',
    HAEIN_CONTAINERD_SOCKET: '/s/node/containerd/containerd.sock',
    HAEIN_POD_LOG_DIR: '/s/node/pod-logs',
    HAEIN_KUBELET_ROOT: '/s/kubelet',
    HAEIN_NODE_STATE: '/s/node',
    HAEIN_API_PORT: '6443',
    HAEIN_PAUSE_IMAGE: 'localhost/haein/pause:3.10-haein',
    HAEIN_BUSYBOX_IMAGE: 'localhost/haein/busybox:local',
    HAEIN_IMAGE: 'localhost/haein/haein:dev',
    HAEIN_IMAGE_REPO: 'localhost/haein/haein',
    HAEIN_IMAGE_TAG: 'dev',
    ...overrides,
  };
  return Object.entries(base)
    .map(([k, v]) => `${k}=${v}`)
    .join('\n');
}

describe('node env file', () => {
  it('parses KEY=VALUE lines, splitting at the first = and skipping comments', () => {
    expect(parseEnvFile('# facts\nA=1\n\nB=x=y\n')).toEqual({ A: '1', B: 'x=y' });
  });

  it('rejects a line without a key', () => {
    expect(() => parseEnvFile('=oops')).toThrow(/malformed/);
  });

  it('types numbers and keeps paths', () => {
    const env = toNodeModeEnv(parseEnvFile(envText({ HAEIN_NODE_GPUS: '2', HAEIN_API_PORT: '7443' })));
    expect(env.gpus).toBe(2);
    expect(env.apiPort).toBe(7443);
    expect(env.devicePluginDir).toBe('/s/kubelet/device-plugins');
    expect(env.haeinImage).toBe('localhost/haein/haein:dev');
  });

  it('names the missing keys of an older file', () => {
    const vars = parseEnvFile(envText());
    delete vars.HAEIN_POD_LOG_DIR;
    expect(() => toNodeModeEnv(vars)).toThrow(/HAEIN_POD_LOG_DIR/);
  });

  it('rejects a non-numeric GPU count', () => {
    expect(() => toNodeModeEnv(parseEnvFile(envText({ HAEIN_NODE_GPUS: 'eight' })))).toThrow(/HAEIN_NODE_GPUS/);
  });
});

describe('CRI log reading', () => {
  const log = [
    '2026-11-29T22:10:28.04Z stdout F hello',
    '2026-11-29T22:10:28.05Z stderr F warn: x',
    '2026-11-29T22:10:28.06Z stdout P NVIDIA_VISIBLE_',
    '2026-11-29T22:10:28.07Z stdout F DEVICES=MIG-abc',
    '2026-11-29T22:10:28.08Z stdout F ',
  ].join('\n');

  it('joins partial lines and keeps empty ones', () => {
    expect(parseCriLog(log)).toBe('hello\nwarn: x\nNVIDIA_VISIBLE_DEVICES=MIG-abc\n\n');
  });

  it('filters one stream', () => {
    expect(parseCriLog(log, 'stderr')).toBe('warn: x\n');
  });

  it('picks the log of the highest restart count', () => {
    expect(latestLogFile(['0.log', '10.log', '2.log', '3.log.20261129-221028'])).toBe('10.log');
    expect(latestLogFile(['x.txt'])).toBeUndefined();
  });
});

describe('pod helpers', () => {
  it('builds a never-pulling pod with limits and scheduling gates', () => {
    const pod = podManifest('ns1', {
      name: 'p',
      image: 'localhost/haein/busybox:local',
      command: ['sh', '-c', 'env'],
      env: { A: 'b' },
      limits: { 'nvidia.com/mig-1g.23gb': '1' },
      schedulingGates: ['gpu.haein.dev/partition'],
      labels: { 'gpu.haein.dev/partition': 'nb' },
    }) as { metadata: { namespace: string; labels: Record<string, string> }; spec: Record<string, unknown> & { containers: Array<Record<string, unknown>> } };
    expect(pod.metadata.namespace).toBe('ns1');
    expect(pod.metadata.labels['gpu.haein.dev/partition']).toBe('nb');
    expect(pod.spec.schedulingGates).toEqual([{ name: 'gpu.haein.dev/partition' }]);
    expect(pod.spec.containers[0].imagePullPolicy).toBe('Never');
    expect(pod.spec.containers[0].resources).toEqual({ limits: { 'nvidia.com/mig-1g.23gb': '1' } });
    expect(pod.spec.containers[0].env).toEqual([{ name: 'A', value: 'b' }]);
  });

  it('reads KEY=VALUE lines from logs, last one wins', () => {
    expect(envFromLogs('RANK=0\nnoise line\nRANK=1\nX=a=b\n')).toEqual({ RANK: '1', X: 'a=b' });
  });

  describe('log file fallback', () => {
    let dir: string;
    const saved = process.env.HAEIN_STATE;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'haein-support-'));
      process.env.HAEIN_STATE = dir;
      mkdirSync(join(dir, 'node'), { recursive: true });
      writeFileSync(join(dir, 'node', 'env'), envText({ HAEIN_POD_LOG_DIR: join(dir, 'pod-logs') }));
      const c = join(dir, 'pod-logs', 'ns1_p_uid-1', 'main');
      mkdirSync(c, { recursive: true });
      writeFileSync(join(c, '0.log'), '2026-11-29T22:10:28.04Z stdout F first run\n');
      writeFileSync(join(c, '1.log'), '2026-11-29T22:10:29.04Z stdout F second run\n');
    });
    afterEach(() => {
      rmSync(dir, { recursive: true, force: true });
      if (saved === undefined) delete process.env.HAEIN_STATE;
      else process.env.HAEIN_STATE = saved;
    });

    it('reads the newest container log from the kubelet pod-log tree', () => {
      expect(readNodeModeEnv()?.podLogDir).toBe(join(dir, 'pod-logs'));
      expect(podLogsFromFiles('ns1', 'p', 'uid-1')).toBe('second run\n');
    });

    it('fails with the directory when the container has no log', () => {
      expect(() => podLogsFromFiles('ns1', 'p', 'uid-1', 'sidecar')).toThrow(/sidecar/);
    });
  });
});

describe('expected allocatable of a realised layout', () => {
  const slice = (profile: string, start: number) => ({ profile, start, uuid: `MIG-${start}`, deviceId: `d${start}`, inUse: false });
  it('counts healthy whole GPUs and the slices of healthy MIG GPUs per profile; unhealthy GPUs count nothing', () => {
    expect(
      expectedAllocatable([
        { index: 0, uuid: 'GPU-0', mode: 'whole', health: 'Healthy', slices: [] },
        { index: 1, uuid: 'GPU-1', mode: 'mig', health: 'Healthy', slices: [slice('1g.23gb', 0), slice('1g.23gb', 1), slice('3g.90gb', 4)] },
        { index: 2, uuid: 'GPU-2', mode: 'mig', health: 'Unhealthy', slices: [slice('7g.180gb', 0)] },
        { index: 3, uuid: 'GPU-3', mode: 'whole', health: 'Unhealthy', slices: [] },
      ]),
    ).toEqual({ 'nvidia.com/gpu': 1, 'nvidia.com/mig-1g.23gb': 2, 'nvidia.com/mig-3g.90gb': 1 });
  });
  it('says zero whole GPUs when every GPU is in MIG mode', () => {
    expect(expectedAllocatable([{ index: 0, uuid: 'GPU-0', mode: 'mig', health: 'Healthy', slices: [] }])).toEqual({ 'nvidia.com/gpu': 0 });
  });
});
