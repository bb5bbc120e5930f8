import type { MstingConfig } from '../config/schema.js';
import { toSortedJson } from './yaml.js';

/**
 * Vault server config (JSON, which Vault reads like HCL). File storage on the vault_data volume;
 * the listener is plain HTTP on the private network only: port 8200 is published on
 * `network.bind_address` (127.0.0.1 by default), and the frontend is the one TLS ingress.
 * mlock is disabled because the container runs without IPC_LOCK.
 */
export function renderVaultConfig(_config: MstingConfig): string {
  return toSortedJson({
    storage: { file: { path: '/vault/file' } },
    listener: [{ tcp: { address: '0.0.0.0:8200', tls_disable: true } }],
    api_addr: 'http://vault:8200',
    ui: true,
    disable_mlock: true,
    log_level: 'info',
  });
}
