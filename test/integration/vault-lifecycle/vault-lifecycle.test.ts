import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { freePortBlock } from '../../support/docker.js';
import { stackImages, writeStackHome } from '../../support/stack-home.js';
import { quoteEnvValue } from '../../../src/render/env-format.js';

/**
 * Vault in the lifecycle, on the real engine with the built CLI: after an install, the vault
 * container restarts sealed; `status` says so; `start` with vault.auto_unseal off stops with exit
 * 5 and points at `msting unseal`; `config render` keeps the env files it cannot fill; `start`
 * unseals with the stored shares, renders the env files from Vault and brings every service up.
 */

const project = `msting-vl-${process.pid}`;
const base = await freePortBlock(20);

let work: string;
let home: string;

function msting(args: string[]): Promise<CliRun> {
  return runInstalledCli(home, work, args);
}

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8' }).trim();
}

function containerIds(): Map<string, string> {
  const lines = docker(['ps', '-a', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}']);
  return new Map(lines.split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
}

interface StatusJson {
  healthy: boolean;
  services: { service: string; ok: boolean }[];
  vault: { state: string; progress: number | null; threshold: number | null; mode: string } | null;
}

async function status(): Promise<StatusJson> {
  const r = await msting(['--json', 'status']);
  return JSON.parse(r.stdout) as StatusJson;
}

/** A KV value read with msting's admin token, straight from Vault's HTTP API. */
async function kvRead(path: string, key: string): Promise<string> {
  const token = (await readFile(join(home, 'secrets', 'vault-admin-token'), 'utf8')).trim();
  const res = await fetch(`http://127.0.0.1:${base}/v1/sting/data/${path}`, { headers: { 'X-Vault-Token': token } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { data: { data: Record<string, string> } };
  return body.data.data[key]!;
}

function envValue(text: string, name: string): string | undefined {
  return new RegExp(`^${name}=(.*)$`, 'm').exec(text)?.[1];
}

beforeAll(async () => {
  ({ work, home } = await writeStackHome({
    prefix: 'msting-vault-lifecycle-it-',
    project,
    basePort: base,
    images: stackImages(),
    configLines: ['vault:', '  shares: 3', '  threshold: 2'],
  }));
  const install = await msting(['install', '--yes', '--skip-models']);
  if (install.code !== 0) throw new Error(`install failed (${install.code}): ${install.stderr.slice(-3000)}`);
}, 600_000);

afterAll(async () => {
  for (const id of containerIds().values()) execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  const volumes = docker(['volume', 'ls', '-q', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
  if (volumes.length > 0) execFileSync('docker', ['volume', 'rm', '-f', ...volumes], { stdio: 'ignore' });
  execFileSync('docker', ['network', 'prune', '-f', '--filter', `label=com.docker.compose.project=${project}`], { stdio: 'ignore' });
  if (work) await rm(work, { recursive: true, force: true });
});

describe('Vault in start, status and config render on the real engine', () => {
  it('a restarted Vault is reported sealed, and start unseals it before its dependants and renders from Vault', async () => {
    // On a busy machine a stand-in's check can miss its timeout once after the install and recover
    // with the next probe: poll, against a deadline, until every service is back.
    let installed = await status();
    const settled = Date.now() + 120_000;
    while (!installed.healthy && Date.now() < settled) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      installed = await status();
    }
    expect(installed.vault).toMatchObject({ state: 'unsealed', mode: 'server' });
    expect(installed.healthy, JSON.stringify(installed.services.filter((s) => !s.ok))).toBe(true);

    const vaultId = containerIds().get('vault')!;
    // The emulator does not listen while its hold file exists (VAULT_EMULATOR_HOLD_FILE): the
    // restarted container runs, and Vault does not answer until the file is removed.
    const holdFile = docker(['exec', vaultId, 'sh', '-c', 'printf %s "$VAULT_EMULATOR_HOLD_FILE"']);
    expect(holdFile).not.toBe('');
    docker(['exec', vaultId, 'touch', holdFile]);
    docker(['restart', vaultId]);
    const starting = await msting(['--json', 'status']);
    expect(starting.code).toBe(1);
    expect((JSON.parse(starting.stdout) as StatusJson).vault, starting.stdout).toMatchObject({ state: 'starting' });
    const vaultStarting = await msting(['--json', 'vault', 'status']);
    expect(vaultStarting.code, vaultStarting.stderr).toBe(1);
    expect((JSON.parse(vaultStarting.stdout) as { vault: { state: string } }).vault.state).toBe('starting');
    expect((await msting(['status'])).stdout).toMatch(/vault: starting \(the vault container runs; Vault does not answer yet\)/);

    docker(['exec', vaultId, 'rm', holdFile]);
    // Now it listens within moments: poll, against a deadline, until it answers.
    const deadline = Date.now() + 60_000;
    let sealed = await msting(['--json', 'status']);
    while ((JSON.parse(sealed.stdout) as StatusJson).vault?.state === 'starting' && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      sealed = await msting(['--json', 'status']);
    }
    expect(sealed.code).toBe(1);
    const sealedReport = JSON.parse(sealed.stdout) as StatusJson;
    expect(sealedReport.vault, JSON.stringify(sealedReport.vault)).toMatchObject({ state: 'sealed', progress: 0, threshold: 2 });
    expect(sealedReport.healthy).toBe(false);
    const text = await msting(['status']);
    expect(text.stdout).toMatch(/vault: sealed \(unseal progress 0 of 2\)/);

    // Sealed: config render cannot read the secrets; the env files that hold them stay, byte for byte.
    const dbEnvBefore = await readFile(join(home, 'env', 'db.env'), 'utf8');
    const render = await msting(['--json', 'config', 'render']);
    expect(render.code, render.stderr).toBe(0);
    const rendered = JSON.parse(render.stdout) as { kept: string[]; removed: string[]; pendingSecrets: unknown[] };
    expect(rendered.kept).toContain('env/db.env');
    expect(rendered.removed).toEqual([]);
    expect(rendered.pendingSecrets.length).toBeGreaterThan(0);
    expect(await readFile(join(home, 'env', 'db.env'), 'utf8')).toBe(dbEnvBefore);
    const again = await msting(['config', 'render']);
    expect(again.stderr).toMatch(/\d+ secrets? pending/);
    expect(existsSync(join(home, 'env', 'db.env'))).toBe(true);

    // auto_unseal off: start stops after vault, with exit 5 and the way out.
    expect((await msting(['config', 'set', 'vault.auto_unseal', 'false'])).code).toBe(0);
    const refused = await msting(['start']);
    expect(refused.code, refused.stderr).toBe(5);
    expect(refused.stderr).toMatch(/sealed/);
    expect(refused.stderr).toMatch(/msting unseal/);
    expect((await status()).vault?.state).toBe('sealed');

    expect((await msting(['config', 'set', 'vault.auto_unseal', 'true'])).code).toBe(0);
    const t0 = Date.now();
    const started = await msting(['start', '--timeout', '120']);
    expect(started.code, started.stderr).toBe(0);
    expect(started.stderr).toMatch(/vault: Vault is unsealed/);
    expect(Date.now() - t0).toBeLessThan(120_000);

    const after = await status();
    expect(after.vault).toMatchObject({ state: 'unsealed', progress: null, threshold: 2 });
    expect(after.services.filter((s) => !s.ok)).toEqual([]);
    expect(after.healthy).toBe(true);

    // The env files carry what Vault holds (compared, never printed).
    const dbEnv = await readFile(join(home, 'env', 'db.env'), 'utf8');
    const postgres = await kvRead('db/postgres', 'password');
    expect(envValue(dbEnv, 'POSTGRES_PASSWORD') === quoteEnvValue(postgres)).toBe(true);
    const appEnv = await readFile(join(home, 'env', 'app.env'), 'utf8');
    const appPassword = await kvRead('db/app', 'password');
    expect(envValue(appEnv, 'DATABASE_URL') === quoteEnvValue(`postgresql://app_user:${encodeURIComponent(appPassword)}@db:5432/sting_app`)).toBe(true);
    expect((await stat(join(home, 'env', 'db.env'))).mode & 0o777).toBe(0o600);
  });
});
