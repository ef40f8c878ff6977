/** Starting an HTTP server the way every endpoint of Haein does (health, metrics, slice map, billing export). */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Listens on `port` (0: a free one) and `host`, and resolves with the port bound; a failure to bind (port in use,
 * no permission) rejects instead of surfacing later as an unhandled 'error' event.
 */
export async function listen(server: http.Server, port: number, host?: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}
