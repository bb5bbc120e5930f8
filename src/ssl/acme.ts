import { createServer, type Server } from 'node:http';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { MstingError } from '../errors.js';
import { writeFileAtomic } from '../files/atomic-write.js';

/**
 * Let's Encrypt (or any ACME CA) for a public domain, behind a small interface so the flow is
 * testable without a CA: `AcmeClient.obtain` orders a certificate and answers the HTTP-01
 * challenge through a `ChallengeResponder` (a standalone listener on port 80, or files in a
 * webroot another web server serves).
 */

export const ACME_DIRECTORIES = {
  production: 'https://acme-v02.api.letsencrypt.org/directory',
  staging: 'https://acme-staging-v02.api.letsencrypt.org/directory',
} as const;

export const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

/** Publishes and withdraws HTTP-01 answers: GET /.well-known/acme-challenge/<token> → key authorization. */
export interface ChallengeResponder {
  /** Where the CA will find answers, for messages. */
  readonly description: string;
  start(): Promise<void>;
  publish(token: string, keyAuthorization: string): Promise<void>;
  withdraw(token: string): Promise<void>;
  stop(): Promise<void>;
}

export interface AcmeOrder {
  domains: string[];
  email: string;
  /** ACME directory URL. */
  directoryUrl: string;
  /** PEM of the account key (kept in secrets/ between runs so the account stays the same). */
  accountKeyPem: string;
  responder: ChallengeResponder;
  onStatus?: (message: string) => void;
}

export interface AcmeCertificate {
  /** Leaf certificate followed by the chain, PEM. */
  certificatePem: string;
  /** PEM of the certificate's private key. */
  keyPem: string;
}

/** The one thing msting asks of an ACME CA. */
export interface AcmeClient {
  /** Make an account key (PEM). */
  createAccountKey(): Promise<string>;
  /** Order, prove control over every domain by HTTP-01, finalize, download. */
  obtain(order: AcmeOrder): Promise<AcmeCertificate>;
}

/** Only HTTP-01 tokens (base64url) are ever served or written: nothing else reaches a path. */
export function validToken(token: string): boolean {
  return /^[A-Za-z0-9_-]{10,256}$/.test(token);
}

/** A listener answering challenges on `port` (80 for Let's Encrypt) until stopped. */
export function standaloneResponder(port: number, host = '0.0.0.0'): ChallengeResponder {
  const answers = new Map<string, string>();
  let server: Server | undefined;
  return {
    description: `a listener on port ${port}`,
    start: () =>
      new Promise((resolve, reject) => {
        const s = createServer((req, res) => {
          const path = (req.url ?? '').split('?')[0] ?? '';
          const token = path.startsWith(CHALLENGE_PREFIX) ? path.slice(CHALLENGE_PREFIX.length) : '';
          const answer = answers.get(token);
          if (req.method === 'GET' && answer !== undefined) {
            res.writeHead(200, { 'content-type': 'text/plain' });
            res.end(answer);
            return;
          }
          res.writeHead(404);
          res.end();
        });
        s.once('error', (err: NodeJS.ErrnoException) => {
          reject(
            new MstingError('EXTERNAL', `cannot listen on port ${port} for the ACME challenge: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EACCES' ? 'permission denied' : err.message}`, {
              hint: err.code === 'EACCES' ? 'run with sudo: ports below 1024 need root' : 'stop what listens on port 80 for a minute, or use --webroot DIR with the web server that holds it',
            }),
          );
        });
        s.listen(port, host, () => {
          server = s;
          resolve();
        });
      }),
    publish: async (token, keyAuthorization) => {
      if (!validToken(token)) throw new MstingError('EXTERNAL', 'the ACME server sent a malformed challenge token');
      answers.set(token, keyAuthorization);
    },
    withdraw: async (token) => {
      answers.delete(token);
    },
    stop: () =>
      new Promise((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
        server = undefined;
      }),
  };
}

/** Answers written as files under `<webroot>/.well-known/acme-challenge/` for a running web server to serve. */
export function webrootResponder(webroot: string): ChallengeResponder {
  const dir = join(webroot, '.well-known', 'acme-challenge');
  return {
    description: `files in ${dir}`,
    start: async () => {
      await mkdir(dir, { recursive: true, mode: 0o755 });
    },
    publish: async (token, keyAuthorization) => {
      if (!validToken(token)) throw new MstingError('EXTERNAL', 'the ACME server sent a malformed challenge token');
      await writeFileAtomic(join(dir, token), keyAuthorization, { mode: 0o644 });
    },
    withdraw: async (token) => {
      if (validToken(token)) await rm(join(dir, token), { force: true });
    },
    stop: async () => undefined,
  };
}

/** The AcmeClient on the `acme-client` library (loaded only when a certificate is ordered). */
export function createAcmeClient(): AcmeClient {
  return {
    async createAccountKey() {
      const acme = await import('acme-client');
      return (await acme.default.crypto.createPrivateEcdsaKey('P-256')).toString();
    },
    async obtain(order) {
      const acme = (await import('acme-client')).default;
      const client = new acme.Client({ directoryUrl: order.directoryUrl, accountKey: order.accountKeyPem });
      const [key, csr] = await acme.crypto.createCsr({ commonName: order.domains[0]!, altNames: order.domains }, await acme.crypto.createPrivateEcdsaKey('P-256'));
      await order.responder.start();
      try {
        order.onStatus?.(`ordering a certificate for ${order.domains.join(', ')} from ${new URL(order.directoryUrl).host}`);
        const certificatePem = await client.auto({
          csr,
          email: order.email,
          termsOfServiceAgreed: true,
          challengePriority: ['http-01'],
          // The CA's own check is the one that counts. A self-check from this host to its public
          // name fails behind NAT without hairpinning and retries for minutes before the CA is asked.
          skipChallengeVerification: true,
          challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
            if (challenge.type !== 'http-01') throw new MstingError('EXTERNAL', `the ACME server offered only ${challenge.type}; msting answers http-01`);
            order.onStatus?.(`answering the HTTP-01 challenge through ${order.responder.description}`);
            await order.responder.publish(challenge.token, keyAuthorization);
          },
          challengeRemoveFn: async (_authz, challenge) => {
            if (challenge.type === 'http-01') await order.responder.withdraw(challenge.token);
          },
        });
        return { certificatePem, keyPem: key.toString() };
      } catch (err) {
        if (err instanceof MstingError) throw err;
        throw new MstingError('EXTERNAL', `the ACME order failed: ${err instanceof Error ? err.message : String(err)}`, {
          hint: 'the domain must resolve to this host and port 80 must reach it from the internet; try --staging first to avoid rate limits',
          cause: err,
        });
      } finally {
        await order.responder.stop();
      }
    },
  };
}
