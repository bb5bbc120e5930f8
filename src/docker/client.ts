import type Dockerode from 'dockerode';
import type { EngineEndpoint } from './endpoint.js';

/** dockerode for an endpoint, imported on first use: it is heavy to load, and most commands never need it. */
export function lazyDockerode(endpoint: EngineEndpoint): () => Promise<Dockerode> {
  let client: Promise<Dockerode> | undefined;
  return () => {
    client ??= import('dockerode').then(({ default: Docker }) => {
      if (endpoint.kind === 'unix') return new Docker({ socketPath: endpoint.socketPath });
      if (endpoint.kind === 'ssh') {
        const url = new URL(endpoint.url);
        return new Docker({ protocol: 'ssh', host: url.hostname, port: url.port ? Number(url.port) : 22, username: url.username || undefined } as Dockerode.DockerOptions);
      }
      if (endpoint.tls) {
        return new Docker({ protocol: 'https', host: endpoint.host, port: endpoint.port, ca: endpoint.tls.ca, cert: endpoint.tls.cert, key: endpoint.tls.key });
      }
      return new Docker({ protocol: 'http', host: endpoint.host, port: endpoint.port });
    });
    return client;
  };
}
