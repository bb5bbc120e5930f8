import { describe, expect, it } from 'vitest';
import { classifyRegistryText, digestMismatchError, failedPulls, parseReference, registryError, registryHost } from '../../../src/docker/registry-errors.js';

// What docker 20.10 and compose 2.26 print, copied from real runs against docker-registry 2.8.
const REFUSED = 'Get "http://127.0.0.1:45199/v2/": dial tcp 127.0.0.1:45199: connect: connection refused';
const NO_CREDENTIALS = 'Head "http://127.0.0.1:45124/v2/x/sting-ce-messaging/manifests/v1": no basic auth credentials';
const NO_DIGEST = `manifest for 127.0.0.1:45123/x/sting-ce-messaging@sha256:${'0'.repeat(64)} not found: manifest unknown: manifest unknown`;
const NO_TAG = 'manifest for 127.0.0.1:45123/x/sting-ce-messaging:v2 not found: manifest unknown: manifest unknown';

describe('image references', () => {
  it('splits registry, repository, tag and digest as the engine does', () => {
    expect(parseReference('127.0.0.1:5000/sting/sting-ce-app:v1')).toEqual({ registry: '127.0.0.1:5000', repository: 'sting/sting-ce-app', tag: 'v1', digest: undefined });
    expect(parseReference(`ghcr.io/alphabytez/sting-ce-app:latest@sha256:${'a'.repeat(64)}`)).toMatchObject({ registry: 'ghcr.io', repository: 'alphabytez/sting-ce-app', tag: 'latest', digest: `sha256:${'a'.repeat(64)}` });
    expect(parseReference('postgres:16')).toEqual({ registry: 'docker.io', repository: 'library/postgres', tag: '16', digest: undefined });
    expect(parseReference('localhost/team/app')).toMatchObject({ registry: 'localhost', repository: 'team/app', tag: undefined });
    expect(parseReference('grafana/loki:3.0.0')).toMatchObject({ registry: 'docker.io', repository: 'grafana/loki' });
    expect(registryHost('registry.example.com:5000/sting/')).toBe('registry.example.com:5000');
  });
});

describe('registry answers', () => {
  it('tells down, 401, missing, plain-HTTP and certificate problems apart', () => {
    expect(classifyRegistryText(REFUSED)).toBe('unreachable');
    expect(classifyRegistryText('Get "https://registry.example.com/v2/": dial tcp: lookup registry.example.com: no such host')).toBe('unreachable');
    expect(classifyRegistryText(NO_CREDENTIALS)).toBe('unauthorized');
    expect(classifyRegistryText('unauthorized: authentication required')).toBe('unauthorized');
    expect(classifyRegistryText(NO_TAG)).toBe('not-found');
    expect(classifyRegistryText('Get "https://10.0.0.5:5000/v2/": http: server gave HTTP response to HTTPS client')).toBe('http-to-https');
    expect(classifyRegistryText('x509: certificate signed by unknown authority')).toBe('certificate');
    expect(classifyRegistryText("pull access denied for msting-test/busybox, repository does not exist or may require 'docker login': denied: requested access to the resource is denied")).toBe('denied');
    expect(classifyRegistryText('something else entirely')).toBeUndefined();
  });

  it('a registry that is down: one message naming the image and registry, a hint to check the address (exit 5)', () => {
    const err = registryError({ action: 'pull', reference: '127.0.0.1:45199/sting/sting-ce-messaging:v1', service: 'messaging', text: REFUSED });
    expect(err.message).toBe('cannot pull 127.0.0.1:45199/sting/sting-ce-messaging:v1 (messaging): the registry 127.0.0.1:45199 does not answer');
    expect(err.hint).toMatch(/check images\.registry in config\.yml and that the registry is running \(`curl http:\/\/127\.0\.0\.1:45199\/v2\/`/);
    expect(err.exitCode).toBe(5);
    expect(err.details).toEqual([REFUSED]);
  });

  it('401: the hint is docker login for that registry host', () => {
    const err = registryError({ action: 'push', reference: 'registry.example.com:5000/sting/sting-ce-app:v1', text: NO_CREDENTIALS });
    expect(err.message).toBe('cannot push registry.example.com:5000/sting/sting-ce-app:v1: the registry registry.example.com:5000 wants credentials (401 unauthorized)');
    expect(err.hint).toContain('docker login registry.example.com:5000');
    expect(err.exitCode).toBe(5);
  });

  it('a missing tag points at images.version and at images push from the build host', () => {
    const err = registryError({ action: 'pull', reference: '127.0.0.1:45123/x/sting-ce-messaging:v2', service: 'messaging', text: NO_TAG });
    expect(err.message).toBe('cannot pull 127.0.0.1:45123/x/sting-ce-messaging:v2 (messaging): the registry 127.0.0.1:45123 has no x/sting-ce-messaging:v2');
    expect(err.hint).toContain('msting images push --registry 127.0.0.1:45123/x');
  });

  it('a digest pin the registry lacks names the service, the pin and what the registry serves', () => {
    const pinned = `sha256:${'0'.repeat(64)}`;
    const served = `sha256:${'4'.repeat(64)}`;
    const err = digestMismatchError({ service: 'messaging', reference: `127.0.0.1:45123/x/sting-ce-messaging:v1@${pinned}`, pinned, served, text: NO_DIGEST });
    expect(err.message).toBe(`images.digests.messaging pins ${pinned}, but the registry serves ${served} for 127.0.0.1:45123/x/sting-ce-messaging:v1`);
    expect(err.hint).toContain(`set images.digests.messaging: ${served}`);
    expect(err.exitCode).toBe(5);
    const unknown = digestMismatchError({ service: 'messaging', reference: `127.0.0.1:45123/x/sting-ce-messaging:v1@${pinned}`, pinned, served: null, text: NO_DIGEST });
    expect(unknown.message).toMatch(/the registry has no manifest with that digest in 127\.0\.0\.1:45123\/x\/sting-ce-messaging$/);
  });
});

describe('compose pull output', () => {
  it('names each service that failed, with compose\'s words', () => {
    const out = [' messaging Pulling ', ` messaging Error ${REFUSED}`, ' knowledge Pulling ', ' knowledge Pulled ', ` app Error ${NO_CREDENTIALS}`, `Error response from daemon: ${REFUSED}`].join('\n');
    expect(failedPulls(out)).toEqual([
      { service: 'messaging', text: REFUSED },
      { service: 'app', text: NO_CREDENTIALS },
    ]);
    expect(failedPulls(` ⠿ kratos-migrate Error ${NO_TAG}`)).toEqual([{ service: 'kratos-migrate', text: NO_TAG }]);
    expect(failedPulls(' db Pulled \n')).toEqual([]);
  });
});
