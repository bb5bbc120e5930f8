import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { statusUrls } from '../../../src/lifecycle/status.js';
import { makeConfig, render } from './fixtures.js';

interface ComposeFile {
  services: Record<string, { ports?: { published: string; target: number; host_ip: string }[]; expose?: string[]; networks?: Record<string, unknown> }>;
}

const composeOf = (stack: ReturnType<typeof render>): ComposeFile => parse(stack.files.get('compose/docker-compose.yml')!.content) as ComposeFile;

function published(compose: ComposeFile): string[] {
  return Object.entries(compose.services).flatMap(([name, s]) => (s.ports ?? []).map((p) => `${name} ${p.host_ip}:${p.published}->${p.target}`));
}

describe('what the host can reach', () => {
  for (const profile of ['default', 'observability', 'full']) {
    it(`profile ${profile}: only the frontend is published; every other listener is only exposed on the stack networks`, () => {
      const compose = composeOf(render(makeConfig(), profile));
      expect(published(compose)).toEqual(['frontend 0.0.0.0:3010->8443']);
      // The attack surface the review found: none of it reaches the host.
      for (const service of ['kratos', 'mailpit', 'vault', 'db', 'redis', 'app', 'knowledge', 'messaging']) {
        expect(compose.services[service]?.ports, service).toBeUndefined();
      }
      expect(compose.services.kratos!.expose).toEqual(['4433', '4434']);
      expect(compose.services.db!.expose).toEqual(['5432']);
    });
  }

  it('a port set in config.yml is published on bind_address, and only that one', () => {
    const compose = composeOf(render(makeConfig({ ports: { 'kratos-admin': 14434, vault: 18200 } }), 'default'));
    expect(published(compose).sort()).toEqual(['frontend 0.0.0.0:3010->8443', 'kratos 127.0.0.1:14434->4434', 'vault 127.0.0.1:18200->8200']);
    // The public port stays unpublished and listed as exposed.
    expect(compose.services.kratos!.expose).toEqual(['4433']);
  });

  it('status shows Mailpit through the frontend unless its UI is published, and Grafana only when published', () => {
    const services = new Set(['frontend', 'mailpit', 'grafana']);
    const hidden = statusUrls(makeConfig(), services);
    expect(hidden.mailpit).toBe('https://localhost:3010/mailpit/');
    expect(hidden.grafana).toBeNull();
    const shown = statusUrls(makeConfig({ ports: { 'mailpit-ui': 15051, grafana: 13000 } }), services);
    expect(shown.mailpit).toBe('http://127.0.0.1:15051/mailpit/');
    expect(shown.grafana).toBe('http://127.0.0.1:13000');
  });
});
