import { MAILPIT_UI_USER } from '../stack/urls.js';
import { SECRET_SPECS } from '../stack/secrets.js';
import type { VaultClient } from './client.js';
import { loadSecretsProvider } from './stack-secrets.js';

/**
 * The sign-in credentials of the stack's web UIs that msting generates into Vault, so the
 * operator can read them without a Vault client: Grafana's admin and Mailpit's UI password.
 */
export const UI_CREDENTIALS = {
  grafana: { user: 'admin', secret: 'grafana.admin', where: 'Grafana (observability and full profiles; published when ports.grafana is set)' },
  mailpit: { user: MAILPIT_UI_USER, secret: 'mailpit.ui', where: "Mailpit's UI at /mailpit/ on the frontend (or ports.mailpit-ui)" },
} as const;

export type UiCredentialName = keyof typeof UI_CREDENTIALS;

export function isUiCredentialName(name: string): name is UiCredentialName {
  return Object.hasOwn(UI_CREDENTIALS, name);
}

export interface UiCredential {
  name: UiCredentialName;
  user: string;
  /** undefined: Vault holds none yet (the service has not been set up). */
  password: string | undefined;
  vaultPath: string;
  where: string;
}

/** Read one UI credential from Vault with msting's management client. */
export async function readUiCredential(client: VaultClient, name: UiCredentialName): Promise<UiCredential> {
  const entry = UI_CREDENTIALS[name];
  const spec = SECRET_SPECS.find((s) => s.id === entry.secret)!;
  const provider = await loadSecretsProvider(client, { specs: [spec] });
  return { name, user: entry.user, password: provider.get(spec.id), vaultPath: `${spec.path}#${spec.key}`, where: entry.where };
}
