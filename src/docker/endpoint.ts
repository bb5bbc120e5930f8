import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Where the Docker engine is, decided once from the environment the way the docker CLI does:
 * DOCKER_HOST (unix://, tcp://, ssh://), DOCKER_TLS_VERIFY and DOCKER_CERT_PATH; else the
 * default socket.
 */
export type EngineEndpoint =
  | { kind: 'unix'; socketPath: string; display: string; fromEnv: boolean }
  | { kind: 'tcp'; host: string; port: number; tls: TlsFiles | null; display: string; fromEnv: boolean }
  | { kind: 'ssh'; url: string; display: string; fromEnv: boolean };

export interface TlsFiles {
  ca: string;
  cert: string;
  key: string;
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export function resolveEndpoint(env: NodeJS.ProcessEnv): EngineEndpoint {
  const host = env.DOCKER_HOST?.trim();
  if (!host) return { kind: 'unix', socketPath: DEFAULT_SOCKET, display: `unix://${DEFAULT_SOCKET}`, fromEnv: false };
  if (host.startsWith('unix://')) {
    const socketPath = host.slice('unix://'.length) || DEFAULT_SOCKET;
    return { kind: 'unix', socketPath, display: `unix://${socketPath}`, fromEnv: true };
  }
  if (host.startsWith('ssh://')) return { kind: 'ssh', url: host, display: host, fromEnv: true };
  const match = /^(?:tcp|https?):\/\/\[?([^\]/]+?)\]?(?::(\d+))?\/?$/.exec(host);
  if (match) {
    const verify = env.DOCKER_TLS_VERIFY !== undefined && env.DOCKER_TLS_VERIFY !== '' && env.DOCKER_TLS_VERIFY !== '0';
    const certDir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
    const port = match[2] ? Number(match[2]) : verify ? 2376 : 2375;
    return {
      kind: 'tcp',
      host: match[1] as string,
      port,
      tls: verify ? { ca: join(certDir, 'ca.pem'), cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') } : null,
      display: host,
      fromEnv: true,
    };
  }
  // A path alone is how some tools write a socket.
  if (host.startsWith('/')) return { kind: 'unix', socketPath: host, display: `unix://${host}`, fromEnv: true };
  return { kind: 'tcp', host, port: 2375, tls: null, display: host, fromEnv: true };
}
