import { loadConfig } from '../config/load.js';
import type { Context } from '../context.js';
import { createDockerEngine } from '../docker/engine.js';
import { ExitCode, usageError } from '../errors.js';
import { installLayout } from '../layout.js';
import { ACME_DIRECTORIES, createAcmeClient, standaloneResponder, webrootResponder, type AcmeClient } from '../ssl/acme.js';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CERT_FILES, RENEW_BEFORE_DAYS, certificateNames, describeCertificate, ensureLocalCertificates, judgeCertificate, trustNote } from '../ssl/local-ca.js';
import { obtainPublicCertificate, readRenewalSettings, writeRenewalSettings } from '../ssl/setup.js';

export interface SetupSslOptions {
  domain?: string | undefined;
  email?: string | undefined;
  staging: boolean;
  webroot?: string | undefined;
  httpPort: number;
  renew: boolean;
}

/**
 * `msting setup-ssl`: without --domain, a local certificate authority and a certificate for the
 * configured host name, localhost and the loopback addresses; with --domain and --email, a
 * Let's Encrypt certificate by HTTP-01. Either way the files land in certs/ (keys 0600), and the
 * running services that serve them (the frontend, Kratos) are restarted.
 */
export async function run(options: SetupSslOptions, ctx: Context, acme: AcmeClient = createAcmeClient()): Promise<number> {
  const { out } = ctx;
  const layout = installLayout(ctx.home);
  const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  let result: Record<string, unknown>;
  const renewal = await readRenewalSettings(layout.secretsDir);
  if (options.renew && !options.domain && renewal) {
    // The Let's Encrypt certificate: order again only when it is due.
    const current = await readFile(join(layout.certsDir, CERT_FILES.cert), 'utf8').then(describeCertificate).catch(() => undefined);
    const verdict = judgeCertificate(current, [renewal.domain], new Date());
    if (verdict.ok) {
      const until = current!.notAfter.toISOString().slice(0, 10);
      if (out.json) out.result({ kind: 'acme', domain: renewal.domain, renewed: false, not_after: current!.notAfter.toISOString(), frontend_restarted: false });
      else out.print(`no renewal due: the certificate for ${renewal.domain} is valid until ${until} (it is renewed within ${RENEW_BEFORE_DAYS} days of its end)`);
      return ExitCode.ok;
    }
    if (!out.json) out.info(`renewing the certificate for ${renewal.domain}: ${verdict.reason}`);
    options = { ...options, domain: renewal.domain, email: renewal.email, webroot: renewal.webroot ?? undefined, httpPort: renewal.http_port };
  }
  if (options.domain) {
    if (!options.email) throw usageError('--domain needs --email: Let\'s Encrypt sends expiry notices there', 'msting setup-ssl --domain sting.example.com --email ops@example.com');
    if (options.domain.toLowerCase() !== config.hostname.toLowerCase()) {
      throw usageError(`--domain ${options.domain} is not the configured hostname (${config.hostname}); every URL, cookie and passkey is derived from that one name`, `msting config set hostname ${options.domain}, then run msting setup-ssl --domain ${options.domain} --email ${options.email} again`);
    }
    const directoryUrl = ctx.env.MSTING_ACME_DIRECTORY || (options.renew && renewal && !options.staging ? renewal.directory_url : options.staging ? ACME_DIRECTORIES.staging : ACME_DIRECTORIES.production);
    const r = await obtainPublicCertificate({
      client: acme,
      domain: options.domain,
      email: options.email,
      directoryUrl,
      certsDir: layout.certsDir,
      secretsDir: layout.secretsDir,
      responder: options.webroot ? webrootResponder(options.webroot) : standaloneResponder(options.httpPort),
      onStatus: (m) => (out.json ? out.event({ event: 'acme', message: m }) : out.info(m)),
    });
    await writeRenewalSettings(layout.secretsDir, { domain: r.domain, email: options.email, directory_url: directoryUrl, webroot: options.webroot ?? null, http_port: options.httpPort });
    result = { kind: 'acme', renewed: true, domain: r.domain, issuer: r.issuer, not_after: r.notAfter, certificate: r.paths.cert, key: r.paths.key, account_created: r.accountCreated };
    if (!out.json) out.print(`certificate for ${r.domain} from ${r.issuer}, valid until ${r.notAfter.slice(0, 10)}, installed in ${layout.certsDir}`);
  } else {
    // A local certificate is made again when it is due, misses a name or its CA must change; --renew asks for nothing more.
    const r = await ensureLocalCertificates({ certsDir: layout.certsDir, secretsDir: layout.secretsDir, names: certificateNames(config.hostname) });
    result = { kind: 'local', renewed: r.certCreated, ca_created: r.caCreated, certificate_created: r.certCreated, reason: r.reason, names: r.names, not_after: r.notAfter, ca_certificate: r.paths.caCert, certificate: r.paths.cert, key: r.paths.key };
    if (!out.json) {
      out.print(
        r.certCreated
          ? `certificate for ${r.names.join(', ')} made (${r.reason}), valid until ${r.notAfter.slice(0, 10)}`
          : `${options.renew ? 'no renewal due: ' : ''}the certificate for ${r.names.join(', ')} is kept: ${r.reason} until ${r.notAfter.slice(0, 10)}`,
      );
      if (!options.renew || r.caCreated) out.print(trustNote(r.paths.caCert).join('\n'));
    }
  }
  const restarted = await restartTlsServices(ctx, config.project.name, config.stop_timeout, result.kind === 'acme' || result.certificate_created === true);
  if (out.json) out.result({ ...result, frontend_restarted: restarted.includes('frontend'), restarted });
  else if (restarted.length > 0) out.info(`restarted ${restarted.join(' and ')} to serve the new certificate`);
  return ExitCode.ok;
}

/** Services that serve the install's certificate; each reads it at start. */
const TLS_SERVICES = ['frontend', 'kratos'];

/** Restart the running services that serve the certificate after a change; the ones restarted. */
async function restartTlsServices(ctx: Context, project: string, timeoutS: number, changed: boolean): Promise<string[]> {
  if (!changed) return [];
  const engine = createDockerEngine(ctx.env);
  const restarted: string[] = [];
  try {
    const running = (await engine.listContainers(project)).filter((c) => TLS_SERVICES.includes(c.service) && c.state === 'running');
    for (const container of running) {
      await engine.stopContainer(container.id, timeoutS);
      await engine.startContainer(container.id);
      restarted.push(container.service);
    }
  } catch {
    ctx.out.warn(`could not restart ${TLS_SERVICES.join(' and ')}; run \`msting restart ${TLS_SERVICES.join(' ')}\` to serve the new certificate`);
  }
  return restarted.sort();
}
