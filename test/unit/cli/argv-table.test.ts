import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, runnableCommands, type Runtime } from '../../../src/cli.js';

/**
 * What each command's `run` receives for a command line. Keyed on the registry: a command added
 * to src/cli.ts without a row here fails the first test, so its options are pinned from the start.
 */
const TABLE: Record<string, Array<{ argv: string[]; options: unknown; fromTop?: true }>> = {
  'config init': [
    { argv: [], options: { force: false } },
    { argv: ['--force'], options: { force: true } },
  ],
  'config import': [{ argv: ['old.yml', '-o', '-'], options: { file: 'old.yml', force: false, output: '-' } }],
  'config validate': [{ argv: [], options: {} }],
  credential: [{ argv: ['grafana'], options: { name: 'grafana' } }],
  'config show': [{ argv: [], options: {} }],
  'config get': [{ argv: ['ports.frontend'], options: { key: 'ports.frontend' } }],
  'config set': [{ argv: ['ports.frontend', '8443'], options: { key: 'ports.frontend', value: '8443' } }],
  'config path': [{ argv: [], options: {} }],
  'config render': [
    { argv: [], options: { profile: undefined, output: undefined } },
    { argv: ['-p', 'full', '--output', 'out'], options: { profile: 'full', output: 'out' } },
  ],
  install: [
    { argv: [], options: { profile: undefined, dryRun: false, skipModels: false, force: false, bundle: undefined, timeout: 600 } },
    { argv: ['--profile', 'full', '--dry-run', '--skip-models', '--force', '--timeout', '90'], options: { profile: 'full', dryRun: true, skipModels: true, force: true, bundle: undefined, timeout: 90 } },
    { argv: ['--bundle', 'sting.tar'], options: { profile: undefined, dryRun: false, skipModels: false, force: false, bundle: 'sting.tar', timeout: 600 } },
  ],
  start: [
    { argv: [], options: { services: [], profile: undefined, timeout: 300 } },
    { argv: ['app', 'frontend', '-p', 'full', '--timeout', '120'], options: { services: ['app', 'frontend'], profile: 'full', timeout: 120 } },
  ],
  stop: [{ argv: ['app'], options: { services: ['app'] } }],
  restart: [
    { argv: [], options: { services: [] } },
    { argv: ['frontend'], options: { services: ['frontend'] } },
  ],
  status: [{ argv: [], options: {} }],
  logs: [
    { argv: [], options: { services: [], follow: false, tail: undefined, since: undefined } },
    { argv: ['db', 'kratos', '-f', '--tail', '100', '--since', '10m'], options: { services: ['db', 'kratos'], follow: true, tail: 100, since: '10m' } },
  ],
  update: [
    { argv: [], options: { services: [], plan: false, backup: true, bundle: undefined, timeout: 300 } },
    { argv: ['app', '--plan', '--no-backup', '--timeout', '60'], options: { services: ['app'], plan: true, backup: false, bundle: undefined, timeout: 60 } },
    { argv: ['--bundle', 'sting.tar'], options: { services: [], plan: false, backup: true, bundle: 'sting.tar', timeout: 300 } },
  ],
  hardware: [{ argv: [], options: {} }],
  'images list': [
    { argv: [], options: { profile: undefined } },
    { argv: ['--profile', 'full'], options: { profile: 'full' } },
  ],
  'images push': [
    { argv: ['--registry', '127.0.0.1:5000/sting'], options: { registry: '127.0.0.1:5000/sting', profile: undefined } },
    { argv: ['--registry', 'r.example.com/x', '-p', 'full'], options: { registry: 'r.example.com/x', profile: 'full' } },
  ],
  'swarm nodes': [{ argv: [], options: {} }],
  'swarm label': [
    { argv: ['gpu-box-1', '--gpu'], options: { node: 'gpu-box-1', gpu: true } },
    { argv: ['gpu-box-1', '--no-gpu'], options: { node: 'gpu-box-1', gpu: false } },
  ],
  'models list': [{ argv: [], options: {} }],
  'models download': [
    { argv: [], options: { names: [] } },
    { argv: ['phi3', 'zephyr'], options: { names: ['phi3', 'zephyr'] } },
  ],
  'models verify': [{ argv: ['phi3'], options: { names: ['phi3'] } }],
  'models remove': [{ argv: ['phi3'], options: { name: 'phi3' } }],
  unseal: [
    { argv: [], options: { sharesFile: undefined } },
    { argv: ['--shares-file', 'shares.txt'], options: { sharesFile: 'shares.txt' } },
    // The first spelling, kept working (with a note on stderr, checked below).
    { argv: ['--key-file', '-'], options: { sharesFile: '-' } },
  ],
  'vault init': [
    { argv: [], options: { sharesFile: undefined, keepRootToken: false } },
    { argv: ['--shares-file', 'usb/shares', '--keep-root-token'], options: { sharesFile: 'usb/shares', keepRootToken: true } },
  ],
  'vault status': [{ argv: [], options: {} }],
  'vault-secret list': [{ argv: [], options: { action: 'list' } }],
  'vault-secret set': [
    { argv: ['huggingface'], options: { action: 'set', provider: 'huggingface', value: undefined } },
    { argv: ['openai', '-'], options: { action: 'set', provider: 'openai', value: '-' } },
  ],
  'vault-secret get': [{ argv: ['openai', '--reveal'], options: { action: 'get', provider: 'openai', reveal: true } }],
  'vault-secret delete': [{ argv: ['openai'], options: { action: 'delete', provider: 'openai' } }],
  'encryption-keys status': [{ argv: [], options: { action: 'status' } }],
  'encryption-keys rotate': [
    { argv: [], options: { action: 'rotate', key: undefined } },
    { argv: ['kratos.cookie'], options: { action: 'rotate', key: 'kratos.cookie' } },
  ],
  backup: [
    {
      argv: [],
      options: { encrypt: false, output: undefined, keep: undefined, passphrase: false, passphraseFile: undefined, keyFile: undefined, includeVaultKeys: false },
    },
    {
      argv: ['--encrypt', '--output', '/mnt/b', '--keep', '7', '--passphrase-file', 'pass.txt', '--include-vault-keys'],
      options: { encrypt: true, output: '/mnt/b', keep: 7, passphrase: false, passphraseFile: 'pass.txt', keyFile: undefined, includeVaultKeys: true },
    },
    {
      argv: ['--key-file', 'other.key'],
      options: { encrypt: false, output: undefined, keep: undefined, passphrase: false, passphraseFile: undefined, keyFile: 'other.key', includeVaultKeys: false },
    },
  ],
  'backup list': [
    { argv: [], options: { dir: undefined } },
    { argv: ['--dir', 'old'], options: { dir: 'old' } },
  ],
  'bundle create': [
    { argv: [], options: { profile: undefined, withModels: false, output: undefined } },
    { argv: ['-p', 'full', '--with-models', '-o', 'sting.tar'], options: { profile: 'full', withModels: true, output: 'sting.tar' } },
  ],
  'bundle verify': [{ argv: ['sting.tar'], options: { file: 'sting.tar' } }],
  'backup verify': [
    { argv: ['a.tar.enc', '--key-file', 'b.key'], options: { file: 'a.tar.enc', passphraseFile: undefined, keyFile: 'b.key' } },
    // Given before the subcommand, the option belongs to `backup`, and verify still reads it.
    { argv: ['backup', '--passphrase-file', 'p.txt', 'verify', 'a.tar.enc'], fromTop: true, options: { file: 'a.tar.enc', passphraseFile: 'p.txt', keyFile: undefined } },
  ],
  'backup decrypt': [{ argv: ['a.tar.enc', '-o', 'a.tar', '--passphrase-file', 'p.txt'], options: { file: 'a.tar.enc', out: 'a.tar', passphraseFile: 'p.txt', keyFile: undefined } }],
  restore: [
    { argv: ['a.tar'], options: { file: 'a.tar', dryRun: false, passphraseFile: undefined, keyFile: undefined } },
    { argv: ['a.tar.enc', '--dry-run', '--key-file', 'b.key'], options: { file: 'a.tar.enc', dryRun: true, passphraseFile: undefined, keyFile: 'b.key' } },
  ],
  'check-ports': [{ argv: [], options: {} }],
  doctor: [{ argv: ['--bundle', 'sb.tar.gz'], options: { bundle: 'sb.tar.gz' } }],
  'reset-auth': [
    { argv: [], options: { timeout: 300 } },
    { argv: ['--timeout', '30'], options: { timeout: 30 } },
  ],
  'setup-ssl': [
    { argv: [], options: { domain: undefined, email: undefined, staging: false, webroot: undefined, httpPort: 80, renew: false } },
    {
      argv: ['--domain', 'sting.example.com', '--email', 'ops@example.com', '--staging', '--webroot', '/var/www', '--http-port', '8080', '--renew'],
      options: { domain: 'sting.example.com', email: 'ops@example.com', staging: true, webroot: '/var/www', httpPort: 8080, renew: true },
    },
  ],
  clean: [{ argv: ['--volumes'], options: { volumes: true } }],
  uninstall: [{ argv: [], options: { purge: false } }],
};

let home: string;
beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'msting-argv-'));
});
afterAll(async () => {
  await rm(home, { recursive: true, force: true });
});

/** Parse a command line as msting would, and capture what the command would have been given instead of running it. */
async function parse(words: string[]): Promise<{ command: string; options: unknown; stderr: string }> {
  let stderr = '';
  const err = new PassThrough();
  err.on('data', (d: Buffer) => (stderr += d.toString()));
  let seen: { command: string; options: unknown } | undefined;
  const runtime: Runtime = {
    streams: { stdout: new PassThrough().resume(), stderr: err },
    env: { NO_COLOR: '1', CI: '1' },
    signal: new AbortController().signal,
    dispatch: async (command, options) => {
      seen = { command, options };
    },
  };
  await buildProgram(runtime, () => undefined).parseAsync(['node', 'msting', '--home', home, ...words]);
  if (!seen) throw new Error(`no command ran for: msting ${words.join(' ')}`);
  return { ...seen, stderr };
}

/** The command's words, then the row's; a row marked fromTop spells the whole line itself. */
function commandLine(command: string, row: { argv: string[]; fromTop?: true }): string[] {
  return row.fromTop ? row.argv : [...command.split(' '), ...row.argv];
}

describe('the command registry', () => {
  const runnable = runnableCommands(buildProgram({ streams: process, env: {}, signal: new AbortController().signal }, () => undefined));

  it('has a row in this table for every command, and no row for a command that does not exist', () => {
    expect(runnable.length).toBeGreaterThan(30);
    expect(Object.keys(TABLE).sort()).toEqual([...runnable].sort());
  });

  for (const [command, rows] of Object.entries(TABLE)) {
    for (const row of rows) {
      it(`msting ${commandLine(command, row).join(' ')}`, async () => {
        const got = await parse(commandLine(command, row));
        expect(got.command).toBe(command);
        expect(got.options).toStrictEqual(row.options);
      });
    }
  }

  it('says once, on stderr, that unseal --key-file is now --shares-file; the new name says nothing', async () => {
    const old = await parse(['unseal', '--key-file', 'shares.txt']);
    expect(old.stderr).toBe('warning: --key-file is deprecated on `msting unseal`: use --shares-file (it works the same)\n');
    expect((await parse(['unseal', '--shares-file', 'shares.txt'])).stderr).toBe('');
    expect((await parse(['backup', '--key-file', 'b.key'])).stderr).toBe('');
  });

  it('shows --shares-file in unseal --help and keeps the old spelling out of it', async () => {
    let help = '';
    const out = new PassThrough();
    out.on('data', (d: Buffer) => (help += d.toString()));
    const program = buildProgram({ streams: { stdout: out, stderr: new PassThrough().resume() }, env: {}, signal: new AbortController().signal }, () => undefined);
    await expect(program.parseAsync(['node', 'msting', 'unseal', '--help'])).rejects.toMatchObject({ code: 'commander.helpDisplayed' });
    expect(help).toContain('--shares-file <file>');
    expect(help).not.toContain('--key-file');
  });
});
