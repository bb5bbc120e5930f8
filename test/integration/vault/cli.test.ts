import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { VaultClient } from '../../../src/vault/client.js';
import { vaultStatus } from '../../../src/vault/status.js';
import { ensureUnsealed } from '../../../src/vault/unseal.js';

/**
 * The built CLI against the Vault emulator running as its own process, restarted on its storage
 * directory like a Vault container with file storage.
 */

const root = resolve(import.meta.dirname, '../../..');
const cli = join(root, 'bin', 'msting.js');
const emulatorMain = join(root, '.cache', 'vault-emulator', 'main.js');

let work: string;
let storage: string;
let port: number;
let vault: ChildProcess | undefined;

beforeAll(async () => {
  if (!existsSync(join(root, 'dist', 'cli.js'))) throw new Error('build msting first: npm run build');
  execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'test', 'vault-emulator', 'tsconfig.json')], { stdio: 'inherit' });
  work = await mkdtemp(join(tmpdir(), 'msting-vault-it-'));
});
afterAll(async () => {
  await stopVault();
  await rm(work, { recursive: true, force: true });
});

async function startVault(dir: string): Promise<void> {
  const child = spawn(process.execPath, [emulatorMain, '--storage', dir, '--port', String(port || 0)], { stdio: ['ignore', 'pipe', 'inherit'] });
  vault = child;
  const line = await new Promise<string>((resolveLine, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}`)));
    child.stdout!.once('data', (d: Buffer) => resolveLine(d.toString()));
  });
  port = Number(/:(\d+)/.exec(line)![1]);
}

async function stopVault(): Promise<void> {
  const child = vault;
  vault = undefined;
  if (!child || child.exitCode !== null) return;
  await new Promise<void>((r) => {
    child.once('exit', () => r());
    child.kill('SIGTERM');
  });
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The install's own Vault is the emulator: config.yml publishes Vault on its port. */
async function writeConfig(home: string): Promise<void> {
  await mkdir(join(home, 'conf'), { recursive: true });
  await writeFile(join(home, 'conf', 'config.yml'), `ports:\n  vault: ${port}\n`);
}

async function msting(home: string, args: string[], input?: string, onSpawn?: (child: ChildProcess) => Promise<void>, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  await writeConfig(home);
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [cli, '--home', home, ...args], {
      env: { ...process.env, VAULT_ADDR: '', VAULT_TOKEN: '', NO_COLOR: '1', CI: '1', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code) => resolveRun({ code: code ?? -1, stdout, stderr }));
    void (async () => {
      if (onSpawn) await onSpawn(child);
      if (input !== undefined) child.stdin.write(input);
      child.stdin.end();
    })();
  });
}

describe('vault commands, built CLI, emulator process', () => {
  let home: string;
  afterEach(async () => stopVault());

  it('init twice is safe; a restart leaves Vault sealed; unseal with stored shares', async () => {
    home = join(work, 'a');
    storage = join(work, 'a-storage');
    port = 0;
    await startVault(storage);
    const first = await msting(home, ['vault', 'init']);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/Vault initialized \(3 of 5 shares/);
    const second = await msting(home, ['--json', 'vault', 'init']);
    expect(second.code, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).vault).toMatchObject({ initializedNow: false, secretsCreated: [] });

    await stopVault();
    await startVault(storage);
    const sealed = await msting(home, ['--json', 'vault', 'status']);
    expect(sealed.code).toBe(1);
    expect(JSON.parse(sealed.stdout).vault).toMatchObject({ state: 'sealed', progress: 0, threshold: 3 });

    const unseal = await msting(home, ['unseal']);
    expect(unseal.code, unseal.stderr).toBe(0);
    expect(unseal.stderr).toMatch(/1 of 3[\s\S]*2 of 3/);
    expect(unseal.stdout).toMatch(/unsealed/);
    expect((await msting(home, ['vault', 'status'])).code).toBe(0);

    // What `start` calls after the vault container restarts.
    await stopVault();
    await startVault(storage);
    const client = new VaultClient({ address: `http://127.0.0.1:${port}` });
    expect((await vaultStatus(client)).state).toBe('sealed');
    const status = await ensureUnsealed({ client, settings: configSchema.parse({}).vault, secretsDir: join(home, 'secrets'), timeoutMs: 10_000 });
    expect(status.state).toBe('unsealed');
  });

  it('unseals from a key file and from standard input; a wrong share is named; no source and no tty is an error', async () => {
    home = join(work, 'b');
    storage = join(work, 'b-storage');
    port = 0;
    await startVault(storage);
    const sharesFile = join(work, 'b-shares.txt');
    const init = await msting(home, ['vault', 'init', '--shares-file', sharesFile]);
    expect(init.code, init.stderr).toBe(0);
    expect(await readdir(join(home, 'secrets'))).not.toContain('vault-unseal-keys.json');
    const shares = (await readFile(sharesFile, 'utf8')).split('\n').filter((l) => l && !l.startsWith('#'));

    await stopVault();
    await startVault(storage);
    const none = await msting(home, ['unseal'], '');
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/--shares-file FILE/);

    const fromFile = await msting(home, ['unseal', '--shares-file', sharesFile]);
    expect(fromFile.code, fromFile.stderr).toBe(0);

    await stopVault();
    await startVault(storage);
    const partial = await msting(home, ['unseal'], `${shares[0]}\n`);
    expect(partial.code).toBe(1);
    expect(partial.stdout).toMatch(/1 of 3 shares given; 2 more needed/);
    // The option's first spelling still works, and says which one to use now.
    const piped = await msting(home, ['unseal', '--key-file', '-'], `${shares[3]}\n${shares[4]}\n`);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stderr).toMatch(/warning: --key-file is deprecated on `msting unseal`: use --shares-file/);

    await stopVault();
    await startVault(storage);
    const wrongFile = join(work, 'b-wrong.txt');
    const mangled = Buffer.from(shares[2]!, 'base64');
    mangled[0] = mangled[0]! ^ 0xff;
    await writeFile(wrongFile, `${shares[0]}\n${shares[1]}\n${mangled.toString('base64')}\n`);
    const wrong = await msting(home, ['unseal', '--shares-file', wrongFile]);
    expect(wrong.code).toBe(5);
    expect(wrong.stderr).toMatch(/rejected the unseal shares: progress went back to 0 of 3/);
    expect(wrong.stderr).toMatch(/hint: one of the shares entered is wrong/);
  });

  it('vault-secret set from standard input keeps the value out of argv and output', async () => {
    home = join(work, 'c');
    storage = join(work, 'c-storage');
    port = 0;
    await startVault(storage);
    expect((await msting(home, ['vault', 'init'])).code).toBe(0);
    const value = `hf_${'Zq9'.repeat(10)}`;
    let cmdline = '';
    const set = await msting(home, ['vault-secret', 'set', 'huggingface'], `${value}\n`, async (child) => {
      // While the child waits on standard input, nothing on its command line carries the value.
      await new Promise((r) => setTimeout(r, 400));
      cmdline = await readFile(`/proc/${child.pid}/cmdline`, 'utf8');
    });
    expect(set.code, set.stderr).toBe(0);
    expect(cmdline).toContain('vault-secret');
    expect(cmdline).not.toContain(value);
    expect(set.stdout + set.stderr).not.toContain(value);

    const masked = await msting(home, ['vault-secret', 'get', 'huggingface']);
    expect(masked.stdout).not.toContain(value);
    expect(masked.stdout).toMatch(/^hf_\*+/);
    const revealed = await msting(home, ['vault-secret', 'get', 'huggingface', '--reveal']);
    expect(revealed.stdout.trim()).toBe(value);

    const positional = await msting(home, ['vault-secret', 'set', 'openai', 'sk-visible']);
    expect(positional.code).toBe(0);
    expect(positional.stderr).toMatch(/ps` and your shell history/);
    const list = await msting(home, ['--json', 'vault-secret', 'list']);
    expect(JSON.parse(list.stdout).providers.map((p: { provider: string }) => p.provider)).toEqual(['huggingface', 'openai']);
  });

  it('errors name what to run: unreachable, then uninitialized', async () => {
    home = join(work, 'd');
    port = 1; // nothing listens on port 1
    const down = await msting(home, ['unseal']);
    expect(down.code).toBe(5);
    expect(down.stderr).toMatch(/not reachable[\s\S]*msting start vault/);
    storage = join(work, 'd-storage');
    port = 0;
    await startVault(storage);
    const fresh = await msting(home, ['unseal']);
    expect(fresh.code).toBe(5);
    expect(fresh.stderr).toMatch(/not initialized[\s\S]*msting vault init/);
  });

  it('the stored admin token goes only to the install\'s own Vault; plain http to another host is refused', async () => {
    home = join(work, 'e');
    storage = join(work, 'e-storage');
    port = 0;
    await startVault(storage);
    expect((await msting(home, ['vault', 'init'])).code).toBe(0);
    const adminToken = (await readFile(join(home, 'secrets', 'vault-admin-token'), 'utf8')).trim();

    // Another listener on this host that records every token sent to it.
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(String(req.headers['x-vault-token'] ?? ''));
      res.writeHead(403, { 'content-type': 'application/json' }).end('{"errors":["permission denied"]}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const otherAddr = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      const list = await msting(home, ['vault-secret', 'list'], undefined, undefined, { VAULT_ADDR: otherAddr });
      expect(list.code).toBe(5);
      expect(list.stderr).toMatch(/not this install's Vault[\s\S]*hint: export VAULT_TOKEN/);
      expect(seen.filter((t) => t !== '')).toEqual([]);
      expect(list.stdout + list.stderr).not.toContain(adminToken);

      // A token from the environment is the operator's choice: that one is sent.
      const withEnv = await msting(home, ['vault-secret', 'list'], undefined, undefined, { VAULT_ADDR: otherAddr, VAULT_TOKEN: 'token-for-the-other-vault' });
      expect(withEnv.code).toBe(5);
      expect(seen).toContain('token-for-the-other-vault');
      expect(seen).not.toContain(adminToken);
    } finally {
      await new Promise<void>((r) => other.close(() => r()));
    }

    // The own Vault, named through VAULT_ADDR as localhost, still gets the stored token.
    const own = await msting(home, ['vault-secret', 'list'], undefined, undefined, { VAULT_ADDR: `http://localhost:${port}` });
    expect(own.code, own.stderr).toBe(0);

    const cleartext = await msting(home, ['vault-secret', 'list'], undefined, undefined, { VAULT_ADDR: 'http://192.0.2.10:8200', VAULT_TOKEN: 'x' });
    expect(cleartext.code).toBe(2);
    expect(cleartext.stderr).toMatch(/plain http:\/\/ to 192\.0\.2\.10:8200, another host[\s\S]*hint: use https:\/\//);
  });
});
