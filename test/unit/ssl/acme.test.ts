import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { standaloneResponder, webrootResponder, type AcmeClient, type AcmeOrder } from '../../../src/ssl/acme.js';
import { certificateNames, ensureLocalCertificates } from '../../../src/ssl/local-ca.js';
import { checkPublicDomain, obtainPublicCertificate } from '../../../src/ssl/setup.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'msting-acme-'));
});
afterEach(async () => rm(dir, { recursive: true, force: true }));

/** A CA that checks the HTTP-01 answer over real HTTP, then issues from a local CA. */
function fakeCa(check: (order: AcmeOrder, token: string, answer: string) => Promise<void>): AcmeClient & { orders: AcmeOrder[] } {
  const orders: AcmeOrder[] = [];
  return {
    orders,
    createAccountKey: async () => '-----BEGIN PRIVATE KEY-----\naccount\n-----END PRIVATE KEY-----\n',
    async obtain(order) {
      orders.push(order);
      const token = 'tok_abcdefghijKLMNOP';
      const answer = `${token}.thumbprint`;
      await order.responder.start();
      try {
        await order.responder.publish(token, answer);
        await check(order, token, answer);
        await order.responder.withdraw(token);
      } finally {
        await order.responder.stop();
      }
      const issued = await ensureLocalCertificates({ certsDir: join(dir, 'ca-out'), secretsDir: join(dir, 'ca-secrets'), names: certificateNames(order.domains[0]!) });
      return { certificatePem: await readFile(issued.paths.cert, 'utf8'), keyPem: await readFile(issued.paths.key, 'utf8') };
    },
  };
}

describe('ACME flow with a fake CA', () => {
  it('answers HTTP-01 on the standalone listener, installs the certificate (key 0600) and keeps the account key', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const seen: string[] = [];
    const client = fakeCa(async (_o, token, answer) => {
      const res = await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/${token}`);
      seen.push(`${res.status} ${await res.text()}`);
      expect((await fetch(`http://127.0.0.1:${port}/.well-known/acme-challenge/other_token_1234`)).status).toBe(404);
      expect(answer).toContain(token);
    });
    const r = await obtainPublicCertificate({
      client,
      domain: 'sting.example.com',
      email: 'ops@example.com',
      directoryUrl: 'https://acme.invalid/directory',
      certsDir: join(dir, 'certs'),
      secretsDir: join(dir, 'secrets'),
      responder: standaloneResponder(port, '127.0.0.1'),
    });
    expect(seen).toEqual(['200 tok_abcdefghijKLMNOP.thumbprint']);
    expect(r).toMatchObject({ domain: 'sting.example.com', accountCreated: true });
    expect((await stat(join(dir, 'certs', 'server.key'))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'secrets', 'acme-account.key'))).mode & 0o777).toBe(0o600);
    expect(client.orders[0]).toMatchObject({ domains: ['sting.example.com'], email: 'ops@example.com' });
    const again = await obtainPublicCertificate({
      client,
      domain: 'sting.example.com',
      email: 'ops@example.com',
      directoryUrl: 'https://acme.invalid/directory',
      certsDir: join(dir, 'certs'),
      secretsDir: join(dir, 'secrets'),
      responder: standaloneResponder(port, '127.0.0.1'),
    });
    expect(again.accountCreated).toBe(false);
  });

  it('webroot answers are files, removed afterwards; a failed order leaves the current certificate', async () => {
    const webroot = join(dir, 'www');
    const client = fakeCa(async (_o, token, answer) => {
      expect(await readFile(join(webroot, '.well-known', 'acme-challenge', token), 'utf8')).toBe(answer);
    });
    await obtainPublicCertificate({ client, domain: 'sting.example.com', email: 'a@b.co', directoryUrl: 'x', certsDir: join(dir, 'certs'), secretsDir: join(dir, 'secrets'), responder: webrootResponder(webroot) });
    const before = await readFile(join(dir, 'certs', 'server.crt'), 'utf8');
    const failing = fakeCa(async () => {
      throw new Error('the CA could not reach the domain');
    });
    await expect(
      obtainPublicCertificate({ client: failing, domain: 'sting.example.com', email: 'a@b.co', directoryUrl: 'x', certsDir: join(dir, 'certs'), secretsDir: join(dir, 'secrets'), responder: webrootResponder(webroot) }),
    ).rejects.toThrow(/could not reach/);
    expect(await readFile(join(dir, 'certs', 'server.crt'), 'utf8')).toBe(before);
  });

  it('refuses names a public CA cannot check', () => {
    expect(() => checkPublicDomain('localhost')).toThrow(/not a public DNS name/);
    expect(() => checkPublicDomain('sting.local')).toThrow(/not reachable from the internet/);
    expect(() => checkPublicDomain('10.0.0.1')).toThrow();
    expect(() => checkPublicDomain('sting.example.com')).not.toThrow();
  });
});
