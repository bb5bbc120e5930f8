import { describe, expect, it } from 'vitest';
import { DEFAULT_TUNING, defaultHashMode, tuningFromEnv } from '../../../src/models/tuning.js';
import { FAST_CONNECTION_BYTES_PER_SECOND, planConnections } from '../../../src/models/connections.js';
import { backoffDelay, parseRetryAfter } from '../../../src/models/retry.js';
import { isConnectFailure, isTransientNetworkError } from '../../../src/models/network-errors.js';
import { normalizeEtag } from '../../../src/models/headers.js';
import { proxyFromEnv } from '../../../src/models/dispatcher.js';
import { endpointFromEnv } from '../../../src/models/hub-client.js';
import { isOffline, resolveToken } from '../../../src/models/token.js';

describe('connections per file', () => {
  const MB = 1_000_000;
  it('doubles while each connection is held to a CDN-like rate, up to the most allowed', () => {
    expect(planConnections(2, 8, 2 * 20 * MB)).toBe(4);
    expect(planConnections(4, 8, 4 * 20 * MB)).toBe(8);
    expect(planConnections(4, 6, 4 * 20 * MB)).toBe(6);
    expect(planConnections(8, 8, 8 * 20 * MB)).toBe(8);
  });
  it('keeps two connections that each already fill a fast link', () => {
    expect(planConnections(2, 8, 2 * FAST_CONNECTION_BYTES_PER_SECOND)).toBe(2);
    expect(planConnections(2, 8, 2 * 350 * MB)).toBe(2);
  });
  it('adds connections when nothing arrived in the interval (a slow start, a retry)', () => {
    expect(planConnections(2, 8, 0)).toBe(4);
  });
  it('stops adding connections once doubling them brought less than a quarter more', () => {
    // Per-connection caps: doubling doubles the rate, so it goes on.
    expect(planConnections(4, 8, 4 * 20 * MB, { open: 2, bytesPerSecond: 2 * 20 * MB })).toBe(8);
    // The CPU or the link is the limit (TLS on two cores): four bring what two brought.
    expect(planConnections(4, 8, 260 * MB, { open: 2, bytesPerSecond: 250 * MB })).toBe(4);
    expect(planConnections(4, 8, 2.4 * 20 * MB, { open: 2, bytesPerSecond: 2 * 20 * MB })).toBe(4);
    // A later interval that does gain (the link got faster) starts the doubling again.
    expect(planConnections(4, 8, 330 * MB, { open: 2, bytesPerSecond: 250 * MB })).toBe(8);
  });
});

describe('retry timing', () => {
  it('reads Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    expect(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 30)).toUTCString(), Date.UTC(2030, 0, 1))).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
  it('backs off exponentially with jitter, capped at 30 s', () => {
    expect(backoffDelay(0, 1000, () => 0)).toBe(500);
    expect(backoffDelay(0, 1000, () => 0.999)).toBe(1499);
    expect(backoffDelay(3, 1000, () => 0.5)).toBe(8000);
    expect(backoffDelay(20, 1000, () => 0.5)).toBe(30_000);
  });
});

describe('settings from the environment', () => {
  it('tunes transfers with MSTING_DOWNLOAD_*', () => {
    const t = tuningFromEnv({ MSTING_DOWNLOAD_CONNECTIONS: '16', MSTING_DOWNLOAD_CHUNK_MB: '8', MSTING_DOWNLOAD_STALL_MS: '500', MSTING_DOWNLOAD_RETRIES: '0', MSTING_DOWNLOAD_HASH: 'after' });
    expect(t).toMatchObject({ connectionsPerFile: 16, chunkSize: 8 * 1024 * 1024, stallTimeoutMs: 500, retries: 0, hashMode: 'after' });
    expect(tuningFromEnv({ MSTING_DOWNLOAD_CONNECTIONS: 'many' }).connectionsPerFile).toBe(DEFAULT_TUNING.connectionsPerFile);
    expect(DEFAULT_TUNING.stallTimeoutMs).toBe(30_000);
    expect(defaultHashMode(1)).toBe('after');
    expect(defaultHashMode(2)).toBe('inorder');
    expect(defaultHashMode(16)).toBe('inorder');
  });
  it('uses HF_ENDPOINT without a trailing slash', () => {
    expect(endpointFromEnv({})).toBe('https://huggingface.co');
    expect(endpointFromEnv({ HF_ENDPOINT: 'https://hf-mirror.example/' })).toBe('https://hf-mirror.example');
  });
  it('reads HF_HUB_OFFLINE like huggingface_hub', () => {
    expect(isOffline({ HF_HUB_OFFLINE: '1' })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: 'true' })).toBe(true);
    expect(isOffline({ HF_HUB_OFFLINE: '0' })).toBe(false);
    expect(isOffline({})).toBe(false);
  });
  it('prefers HF_TOKEN, then the provider, and reports a failing provider without throwing', async () => {
    expect(await resolveToken({ HF_TOKEN: 'hf_env' }, async () => 'hf_vault')).toMatchObject({ token: 'hf_env', source: 'HF_TOKEN' });
    expect(await resolveToken({}, async () => 'hf_vault')).toMatchObject({ token: 'hf_vault' });
    expect(await resolveToken({}, async () => { throw new Error('Vault is sealed'); })).toMatchObject({ token: undefined, providerProblem: 'Vault is sealed' });
  });
  it('normalizes weak and quoted ETags', () => {
    expect(normalizeEtag('W/"abc"')).toBe('abc');
    expect(normalizeEtag('"abc"')).toBe('abc');
  });
});

describe('network failures', () => {
  const failure = (code: string, syscall?: string) => Object.assign(new Error(code), { code, ...(syscall ? { syscall } : {}) });

  it('tells a connection that never opened from one that broke', () => {
    expect(isConnectFailure(failure('ENOTFOUND', 'getaddrinfo'))).toBe(true);
    expect(isConnectFailure(failure('ECONNREFUSED', 'connect'))).toBe(true);
    expect(isConnectFailure(failure('ETIMEDOUT', 'connect'))).toBe(true);
    expect(isConnectFailure(failure('UND_ERR_CONNECT_TIMEOUT'))).toBe(true);
    expect(isConnectFailure(failure('ECONNRESET', 'read'))).toBe(false);
    expect(isConnectFailure(failure('MSTING_STALL'))).toBe(false);
    expect(isConnectFailure(failure('ENOSPC', 'write'))).toBe(false);
  });

  it('retries what another attempt may fix, and nothing else', () => {
    for (const code of ['ECONNRESET', 'ECONNREFUSED', 'MSTING_STALL', 'MSTING_HTTP_PROTOCOL', 'ERR_STREAM_PREMATURE_CLOSE']) expect(isTransientNetworkError(failure(code))).toBe(true);
    for (const code of ['ENOTFOUND', 'ENOSPC', 'SELF_SIGNED_CERT_IN_CHAIN']) expect(isTransientNetworkError(failure(code))).toBe(false);
  });

  it('reads the proxies from either case, ignoring empty values', () => {
    expect(proxyFromEnv({})).toBeUndefined();
    expect(proxyFromEnv({ HTTPS_PROXY: '', HTTP_PROXY: '' })).toBeUndefined();
    expect(proxyFromEnv({ https_proxy: 'http://p:3128' })).toEqual({ httpsProxy: 'http://p:3128' });
    expect(proxyFromEnv({ HTTPS_PROXY: '', https_proxy: 'http://a:1', HTTP_PROXY: 'http://b:2' })).toEqual({ httpsProxy: 'http://a:1', httpProxy: 'http://b:2' });
  });
});
