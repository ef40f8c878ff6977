import { HealthServer } from '../../../src/runtime/health-server.js';
import { OperatorMetrics } from '../../../src/runtime/metrics.js';

async function get(port: number, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') };
}

describe('HealthServer', () => {
  it('answers probes from their checks and serves metrics', async () => {
    const metrics = new OperatorMetrics();
    metrics.leader.set(1);
    let synced = false;
    const server = new HealthServer({
      port: 0,
      host: '127.0.0.1',
      registry: metrics.registry,
      liveness: { loop: () => true },
      readiness: { informers: () => (synced ? true : 'not synced: gpunodes') },
    });
    const port = await server.start();
    try {
      expect((await get(port, '/healthz')).status).toBe(200);
      const notReady = await get(port, '/readyz');
      expect(notReady.status).toBe(503);
      expect(notReady.body).toContain('[-] informers failed: not synced: gpunodes');
      synced = true;
      expect(await get(port, '/readyz')).toMatchObject({ status: 200 });
      server.addLivenessCheck('broken', () => {
        throw new Error('exploded');
      });
      const dead = await get(port, '/healthz');
      expect(dead.status).toBe(503);
      expect(dead.body).toContain('broken failed: exploded');
      const m = await get(port, '/metrics');
      expect(m.status).toBe(200);
      expect(m.type).toContain('text/plain');
      expect(m.body).toContain('haein_leader 1');
      expect((await get(port, '/nope')).status).toBe(404);
    } finally {
      await server.stop();
    }
  });
});
