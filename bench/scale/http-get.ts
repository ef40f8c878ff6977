/** Plain GETs of text endpoints: a child's `/metrics`, and the API server's `/metrics` with kubeconfig credentials. */
import https from 'node:https';
import type { KubeConfig } from '../../src/k8s/client.js';

/** GET `url` (no credentials) and return the body; throws on a non-2xx answer or after `timeoutMs`. */
export async function getText(url: string, timeoutMs = 10_000): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`GET ${url}: ${res.status}`);
  return res.text();
}

/** GET `path` from the kubeconfig's API server with its credentials, returning the body as text. */
export async function getApiText(kc: KubeConfig, path: string, timeoutMs = 30_000): Promise<string> {
  const { cluster } = kc;
  const url = new URL(path, cluster.server);
  const options: https.RequestOptions = { method: 'GET', hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: url.port || 443, path: url.pathname + url.search, headers: { Accept: 'text/plain' } };
  await kc.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    const req = https.request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 200)}`));
        else resolve(body);
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', (cause) => reject(new Error(`GET ${path} from ${cluster.server}`, { cause })));
    req.end();
  });
}
