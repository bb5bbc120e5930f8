import './wasm-tier.js';
import type { SecureContext } from 'node:tls';
import { Agent, EnvHttpProxyAgent, buildConnector, type Dispatcher } from 'undici';
import { lazySecureContext, type TrustStore } from './trust.js';

/**
 * One connection pool for a run: the hub API, and the blob bodies behind a proxy (body-client.ts
 * fetches them itself on direct connections). Node 20's fetch ignores HTTPS_PROXY, so the proxy variables
 * are read here and handed to undici's EnvHttpProxyAgent (which also honours NO_PROXY).
 * Undici's own timeouts double as the stall detector: no header or body byte for
 * `stallTimeoutMs` ends the request with a timeout error, which the caller retries.
 * TLS connections trust `trust`'s certificates beside Node's (trust.ts); the context holding
 * them is built on the first TLS connection, so plain-HTTP runs never pay for it.
 */
export function createDispatcher(env: NodeJS.ProcessEnv, stallTimeoutMs: number, trust: TrustStore): Dispatcher {
  const connectTimeout = Math.min(stallTimeoutMs, 30_000);
  const timeouts = { headersTimeout: stallTimeoutMs, bodyTimeout: stallTimeoutMs, connectTimeout };
  const secureContext = lazySecureContext(env, trust);
  const { httpsProxy, httpProxy } = proxyFromEnv(env) ?? {};
  if (httpsProxy || httpProxy) {
    const noProxy = env.NO_PROXY ?? env.no_proxy;
    // Tunnels take their TLS options as objects, read when the agent is made.
    const context = secureContext();
    const tlsOptions = context ? { requestTls: { secureContext: context }, proxyTls: { secureContext: context } } : {};
    return new EnvHttpProxyAgent({
      ...timeouts,
      ...tlsOptions,
      connect: trustingConnector(connectTimeout, secureContext),
      ...(httpProxy ? { httpProxy } : {}),
      ...(httpsProxy ? { httpsProxy } : {}),
      ...(noProxy !== undefined ? { noProxy } : {}),
    });
  }
  return new Agent({ ...timeouts, connect: trustingConnector(connectTimeout, secureContext) });
}

/** The proxies the environment names (HTTPS_PROXY, HTTP_PROXY, either case); undefined when none. */
export function proxyFromEnv(env: NodeJS.ProcessEnv): { httpsProxy?: string; httpProxy?: string } | undefined {
  const httpsProxy = env.HTTPS_PROXY || env.https_proxy || undefined;
  const httpProxy = env.HTTP_PROXY || env.http_proxy || undefined;
  if (!httpsProxy && !httpProxy) return undefined;
  return { ...(httpsProxy ? { httpsProxy } : {}), ...(httpProxy ? { httpProxy } : {}) };
}

/** undici's connector, with the trusted context for TLS connections once one is needed. */
function trustingConnector(timeout: number, secureContext: () => SecureContext | undefined): buildConnector.connector {
  const plain = buildConnector({ timeout });
  let secure: buildConnector.connector | undefined;
  return (options, callback) => {
    if (options.protocol === 'https:') {
      const context = secureContext();
      if (context) {
        secure ??= buildConnector({ timeout, secureContext: context });
        return secure(options, callback);
      }
    }
    return plain(options, callback);
  };
}
