/**
 * What this project does not implement itself — legacy `auth-provider` plugins (oidc, gcp, azure) and
 * `proxy-url` — is served by `@kubernetes/client-node`, imported only when such a config is used: the import
 * costs a process ~85 MiB of memory, which only those users pay.
 */
import type { KubeConfig as ClientNodeKubeConfig } from '@kubernetes/client-node';
import type { KubeconfigSelection } from './kubeconfig.js';

/** Why a selection needs client-node, or `undefined` when it does not. */
export function clientNodeReason(s: KubeconfigSelection): string | undefined {
  if (s.user.authProvider) return `auth-provider "${s.user.authProvider.name}" of user "${s.user.name}"`;
  if (s.cluster.proxyUrl) return `proxy-url of cluster "${s.cluster.name}"`;
  return undefined;
}

/** A client-node KubeConfig holding just `s` (its paths already absolute), loaded with a dynamic import. */
export async function clientNodeKubeConfig(s: KubeconfigSelection): Promise<ClientNodeKubeConfig> {
  let lib: typeof import('@kubernetes/client-node');
  try {
    lib = await import('@kubernetes/client-node');
  } catch (cause) {
    throw new Error(`loading @kubernetes/client-node, needed for the ${clientNodeReason(s) ?? 'kubeconfig'}`, { cause });
  }
  const { cluster: c, user: u } = s;
  // client-node has no tokenFile field; its tokenFile authenticator re-reads the file every minute.
  const authProvider = u.authProvider ?? (u.tokenFile ? { name: 'tokenFile', config: { tokenFile: u.tokenFile } } : undefined);
  const kc = new lib.KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: c.name,
        server: c.server,
        caData: c.certificateAuthorityData,
        caFile: c.certificateAuthority,
        skipTLSVerify: c.insecureSkipTlsVerify,
        tlsServerName: c.tlsServerName,
        proxyUrl: c.proxyUrl,
      },
    ],
    users: [
      {
        name: u.name || 'user',
        certData: u.clientCertificateData,
        certFile: u.clientCertificate,
        keyData: u.clientKeyData,
        keyFile: u.clientKey,
        token: u.token,
        username: u.username,
        password: u.password,
        authProvider,
        exec: u.exec,
        impersonateUser: u.impersonate?.user,
      },
    ],
    contexts: [{ name: s.context, cluster: c.name, user: u.name || 'user', namespace: s.namespace }],
    currentContext: s.context,
  });
  return kc;
}
