import type { MstingConfig } from '../config/schema.js';

/**
 * Every address derived from the one `hostname`. STING-CE patched these separately and broke
 * passkeys and logins each time they drifted; here they come from one function.
 */
export interface PublicUrls {
  hostname: string;
  /** The frontend, the single ingress: `https://host[:port]`. */
  frontend: string;
  /**
   * Kratos public API as the browser reaches it, through the frontend (`/.ory`). The React UI
   * calls this; Kratos's own `serve.public.base_url` is the bare frontend origin, because the UI
   * turns every absolute Kratos URL into `/.ory<path>` itself.
   */
  kratosBrowser: string;
  /** The API as the browser reaches it, through the frontend. */
  api: string;
  /**
   * Kratos inside the private network. HTTPS, as STING-CE's app calls it (some of its calls are
   * hard-coded to https://kratos:4433 and https://kratos:4434).
   */
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

/** Kratos's two listeners inside the stack network; both serve TLS from the stack's certificate. */
export const KRATOS_PUBLIC_INTERNAL = 'https://kratos:4433';
export const KRATOS_ADMIN_INTERNAL = 'https://kratos:4434';

/** Path under the frontend where Mailpit's web UI is proxied (Mailpit's `MP_WEBROOT`). */
export const MAILPIT_BROWSER_PATH = '/mailpit';
/** User name of Mailpit's web UI; its password is the Vault secret `mailpit/ui#password`. */
export const MAILPIT_UI_USER = 'sting';

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
    kratosPublicInternal: KRATOS_PUBLIC_INTERNAL,
    kratosAdminInternal: KRATOS_ADMIN_INTERNAL,
    webauthnRpId: host,
    webauthnOrigin: frontend,
    cookieDomain: host === 'localhost' || isIpLike(host) ? null : host,
    corsOrigins: cors,
  };
}
