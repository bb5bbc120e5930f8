import type { MstingConfig } from '../config/schema.js';

/**
 * Every address derived from the one `hostname`. STING-CE patched these separately and broke
 * passkeys and logins each time they drifted; here they come from one function.
 */
export interface PublicUrls {
  hostname: string;
  /** The frontend, the single ingress: `https://host[:port]`. */
  frontend: string;
  /** Kratos public API as the browser reaches it, through the frontend. */
  kratosBrowser: string;
  /** The API as the browser reaches it, through the frontend. */
  api: string;
  /** Kratos inside the private network. */
  kratosPublicInternal: string;
  kratosAdminInternal: string;
  /** WebAuthn relying-party id: the bare host name. */
  webauthnRpId: string;
  /** WebAuthn origin: scheme, host and port exactly as the browser shows them. */
  webauthnOrigin: string;
  /** Cookie domain, or null for a host-only cookie (localhost and IP addresses). */
  cookieDomain: string | null;
  /** Origins CORS allows: the frontend first, then `app.cors_origins`, deduplicated. */
  corsOrigins: string[];
}

/** Path under the frontend where Kratos's public API is proxied. */
export const KRATOS_BROWSER_PATH = '/.ory';

function isIpLike(host: string): boolean {
  return /^\d+(\.\d+){3}$/.test(host) || host.includes(':');
}

export function derivePublicUrls(config: MstingConfig): PublicUrls {
  const host = config.hostname.toLowerCase();
  const port = config.ports.frontend;
  const frontend = port === 443 ? `https://${host}` : `https://${host}:${port}`;
  const cors = [frontend];
  for (const origin of config.app.cors_origins) {
    const normalized = new URL(origin).origin;
    if (!cors.includes(normalized)) cors.push(normalized);
  }
  return {
    hostname: host,
    frontend,
    kratosBrowser: `${frontend}${KRATOS_BROWSER_PATH}`,
    api: `${frontend}/api`,
    kratosPublicInternal: 'http://kratos:4433',
    kratosAdminInternal: 'http://kratos:4434',
    webauthnRpId: host,
    webauthnOrigin: frontend,
    cookieDomain: host === 'localhost' || isIpLike(host) ? null : host,
    corsOrigins: cors,
  };
}
