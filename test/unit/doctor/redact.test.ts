import { describe, expect, it } from 'vitest';
import { createRedactor, envSecretValues, REDACTED } from '../../../src/doctor/redact.js';

describe('redaction', () => {
  it('replaces every known secret wherever it appears, longest first', () => {
    const r = createRedactor(['abcdef123456', 'abcdef123456XYZ', 'ab']);
    expect(r.size).toBe(2);
    expect(r.text('a abcdef123456XYZ b abcdef123456 c ab')).toBe(`a ${REDACTED} b ${REDACTED} c ab`);
  });

  it('catches credential-shaped strings nobody registered', () => {
    const r = createRedactor();
    const text = [
      'token hvs.CAESIJ7Wc0d8yY0rQyqkQzH1yZw2ZmdiZGRkNDU2',
      'DATABASE_URL=postgresql://app:Xk2pQ9zLmN4@db:5432/sting_app',
      'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcdefghijk',
      'HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz123',
      'REDIS_PASSWORD=plainpassword',
      'password: hunter2hunter2',
      '"client_secret": "shh-it-is-secret"',
      '-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n-----END PRIVATE KEY-----',
    ].join('\n');
    const out = r.text(text);
    for (const secret of ['hvs.CAESIJ7Wc0d8', 'Xk2pQ9zLmN4', 'eyJhbGciOiJIUzI1NiJ9', 'hf_abcdefghijklmnop', 'plainpassword', 'hunter2hunter2', 'shh-it-is-secret', 'MIGHAgEAMBMGByqGSM49']) {
      expect(out, secret).not.toContain(secret);
    }
    // What helps a diagnosis stays.
    expect(out).toContain('postgresql://app:');
    expect(out).toContain('@db:5432/sting_app');
    expect(out).toContain('REDIS_PASSWORD=');
  });

  it('keeps ordinary settings readable', () => {
    const r = createRedactor();
    const text = 'KRATOS_PUBLIC_URL=https://localhost:3010/.ory\nLOG_LEVEL=info\nports:\n  db: 5433\npassword_required: true\nvault:\n  token: vault-ref:sting/x#y';
    expect(r.text(text)).toBe(text);
  });

  it('redacts JSON values under secret-named keys and strings inside', () => {
    const r = createRedactor(['known-secret-1']);
    expect(r.value({ user: 'x', api_key: 'abc', nested: [{ note: 'has known-secret-1 inside' }], count: 3 })).toEqual({
      user: 'x',
      api_key: REDACTED,
      nested: [{ note: `has ${REDACTED} inside` }],
      count: 3,
    });
  });

  it('finds the secret values of an env file: secret-named keys, generated-looking values, URL passwords', () => {
    const env = [
      'POSTGRES_PASSWORD=Zq8wXv2Lr5Tn9Mb3Kc7Jh1Gf4Dd6Ss0A',
      'LOG_LEVEL=info',
      'KRATOS_PUBLIC_URL=https://localhost:3010/.ory',
      'SESSION_SIGNING=abc123def456ghi789jkl012',
      'DATABASE_URL="postgresql://app:p%40ss-w0rd@db:5432/x"',
    ].join('\n');
    const values = envSecretValues(env);
    expect(values).toContain('Zq8wXv2Lr5Tn9Mb3Kc7Jh1Gf4Dd6Ss0A');
    expect(values).toContain('abc123def456ghi789jkl012');
    expect(values).toContain('p@ss-w0rd');
    expect(values).not.toContain('info');
    expect(values).not.toContain('https://localhost:3010/.ory');
  });
});
