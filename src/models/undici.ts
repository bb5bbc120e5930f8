import type { Dispatcher } from 'undici';
// undici's index also loads fetch, WebSocket, the caches and the mocks (~40 ms of every models
// command's start-up); these are the modules the downloads use. undici 6 publishes no exports
// map, so its lib/ paths are importable; the build bundles them (scripts/build.mjs).
import AgentImpl from 'undici/lib/dispatcher/agent.js';
import DispatcherImpl from 'undici/lib/dispatcher/dispatcher.js';
import EnvHttpProxyAgentImpl from 'undici/lib/dispatcher/env-http-proxy-agent.js';
import buildConnectorImpl from 'undici/lib/core/connect.js';
import api from 'undici/lib/api/index.js';

// What undici's index does on load: dispatchers get request(), connect() and the rest as methods
// (its ProxyAgent opens a proxy's CONNECT tunnel through them).
Object.assign(DispatcherImpl.prototype, api);

export type { Dispatcher };
export const Agent = AgentImpl;
export const EnvHttpProxyAgent = EnvHttpProxyAgentImpl;
export const buildConnector = buildConnectorImpl;

export interface RequestOptions {
  method?: Dispatcher.HttpMethod;
  headers?: Record<string, string>;
  dispatcher: Dispatcher;
  signal?: AbortSignal;
}

/** undici's `request(url, options)`, without its global dispatcher: every call names its own. */
export function request(url: string | URL, options: RequestOptions): Promise<Dispatcher.ResponseData> {
  const u = typeof url === 'string' ? new URL(url) : url;
  const { dispatcher, ...rest } = options;
  return api.request.call(dispatcher, {
    ...rest,
    origin: u.origin,
    path: u.search ? `${u.pathname}${u.search}` : u.pathname,
    method: options.method ?? 'GET',
  });
}
