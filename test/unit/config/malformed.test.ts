import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';
import { buildJsonSchema } from '../../../src/config/json-schema.js';

/**
 * Malformed configs through the CLI, as a user meets them: each must exit 3, name the key and
 * its line and column, and leave the install directory exactly as it was.
 */

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function msting(home: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  // No Vault, no colour: only the config decides what happens.
  const code = await main(['node', 'msting', '--home', home, ...args], { stdout, stderr }, { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', VAULT_ADDR: 'http://127.0.0.1:1', ...env });
  return { code, stdout: out, stderr: err };
}

async function homeWith(file: string | Buffer): Promise<{ home: string; configPath: string }> {
  const home = await mkdtemp(join(tmpdir(), 'msting-malformed-'));
  await mkdir(join(home, 'conf'));
  const configPath = join(home, 'conf', 'config.yml');
  await writeFile(configPath, file);
  return { home, configPath };
}

/** Every file under the home with its bytes, but the audit trail, which records the attempt. */
async function snapshot(home: string): Promise<string[]> {
  const entries = (await readdir(home, { recursive: true })).filter((e) => !e.startsWith('logs'));
  return Promise.all(entries.sort().map(async (e) => `${e}:${await readFile(join(home, e)).then((b) => b.toString('base64')).catch(() => 'dir')}`));
}

interface Case {
  name: string;
  file: string | Buffer;
  env?: NodeJS.ProcessEnv;
  /** `LINE:COLUMN KEY` as the report prints it, `VARIABLE KEY` for an environment override, `LINE:COLUMN` for the whole file. */
  where: string;
  message: string;
}

/** Runs `config validate` and `config render` on the file; both exit 3 and write nothing. */
async function expectRefused(c: Case): Promise<string> {
  const { home, configPath } = await homeWith(c.file);
  const before = await snapshot(home);
  const [place, key] = c.where.split(' ') as [string, string | undefined];
  const start = `  ${/^\d+:\d+$/.test(place) ? `${configPath}:${place}` : place}: ${key === undefined ? '' : `${key}: `}`;
  let report = '';
  for (const command of [['config', 'validate'], ['config', 'render']]) {
    const run = await msting(home, command, c.env);
    expect(run.code, `${command.join(' ')}: ${run.stderr}`).toBe(3);
    const line = run.stderr.split('\n').find((l) => l.startsWith(start));
    expect(line, run.stderr).toBeDefined();
    expect(line).toContain(c.message);
    report = run.stderr;
  }
  expect(await snapshot(home)).toEqual(before);
  return report;
}

describe('config values that other programs would read wrongly are refused', () => {
  const cases: Case[] = [
    { name: 'an origin without a scheme', file: 'app:\n  cors_origins: ["localhost:3000"]\n', where: '2:18 app.cors_origins.0', message: 'expected an http or https origin' },
    { name: 'a file: origin', file: 'app:\n  cors_origins:\n    - https://ok.example.com\n    - file:///x\n', where: '4:7 app.cors_origins.1', message: 'expected an http or https origin' },
    { name: 'two origins in one', file: 'app:\n  cors_origins: ["https://a.example.com,https://b.example.com"]\n', where: '2:18 app.cors_origins.0', message: 'one per list item' },
    { name: 'a registry with a space', file: 'images:\n  registry: my registry.example.com\n', where: '2:13 images.registry', message: 'expected a registry and path such as ghcr.io/alphabytez' },
    { name: 'an override with a newline', file: 'images:\n  overrides:\n    app: "registry.example.com/app\\n:1"\n', where: '3:10 images.overrides.app', message: 'expected one line of printable text, got "registry.example.com/app\\n:1"' },
    { name: 'an override with upper case', file: 'images:\n  overrides:\n    app: Registry.example.com/Team/app:1\n', where: '3:10 images.overrides.app', message: 'expected an image reference' },
    { name: 'MSTING_REGISTRY with a space', file: 'hostname: sting.example.com\n', env: { MSTING_REGISTRY: 'my registry.example.com' }, where: 'MSTING_REGISTRY images.registry', message: 'got "my registry.example.com"' },
  ];
  it.each(cases)('$name', async (c) => {
    await expectRefused(c);
  });

  it('still accepts the forms those programs take', async () => {
    const { home } = await homeWith(
      [
        'app:',
        '  cors_origins: ["http://localhost:3000", "https://app.example.com/", "https://[::1]:8443"]',
        'images:',
        '  registry: registry.example.com:5000/sting',
        '  overrides:',
        `    app: localhost:5000/team/sting-app:1.2@sha256:${'a'.repeat(64)}`,
        'network:',
        '  subnet: 10.20.0.0/16',
        'mail:',
        '  smtp:',
        '    host: 192.0.2.25',
        'llm:',
        '  models:',
        '    - name: phi3',
        '      repo: microsoft/Phi-3-medium-128k-instruct',
        '      revision: refs/pr/12',
        '',
      ].join('\n'),
    );
    const run = await msting(home, ['config', 'validate']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
  });
});

describe('subnet, revision and SMTP host are checked as what they are', () => {
  const cases: Case[] = [
    { name: 'a subnet that is no CIDR', file: 'network:\n  subnet: 10.0.0.0\n', where: '2:11 network.subnet', message: 'expected an IPv4 network such as 172.30.0.0/16' },
    { name: 'a subnet too small to cut in eight', file: 'network:\n  subnet: 10.0.0.0/27\n', where: '2:11 network.subnet', message: 'from /8 to /25' },
    { name: 'a revision with a space', file: 'llm:\n  models:\n    - name: phi3\n      repo: microsoft/phi3\n      revision: my branch\n', where: '5:17 llm.models.0.revision', message: 'expected a branch or tag name' },
    { name: 'a revision climbing out', file: 'llm:\n  models:\n    - name: phi3\n      repo: microsoft/phi3\n      revision: ../../etc\n', where: '5:17 llm.models.0.revision', message: 'no `..`' },
    { name: 'an SMTP host with a query', file: 'mail:\n  smtp:\n    host: "relay.example.com/?verify=false#"\n', where: '3:11 mail.smtp.host', message: 'expected a host name or IP address' },
    { name: 'an SMTP host with a space', file: 'mail:\n  smtp:\n    host: relay example.com\n', where: '3:11 mail.smtp.host', message: 'expected a host name or IP address' },
  ];
  it.each(cases)('$name', async (c) => {
    await expectRefused(c);
  });
});

describe('bytes the YAML parser lets through are refused', () => {
  const cases: Case[] = [
    { name: 'Latin-1 bytes', file: Buffer.concat([Buffer.from('hostname: sting.example.com\nmail:\n  from_name: Caf'), Buffer.from([0xe9]), Buffer.from('\n')]), where: '3:17 mail.from_name', message: 'the file is not UTF-8: byte 0xe9' },
    { name: 'a raw SOH', file: 'mail:\n  from_name: ab\u0001cd\n', where: '2:16 mail.from_name', message: 'raw control character \\x01 (U+0001)' },
    { name: 'a raw NUL', file: 'mail:\n  from_name: ab\u0000cd\n', where: '2:16 mail.from_name', message: 'raw control character \\0 (U+0000)' },
    { name: 'an escaped control character', file: 'mail:\n  from_name: "ab\\x01cd"\n', where: '2:14 mail.from_name', message: 'expected one line of printable text, got "ab\\x01cd"' },
  ];
  it.each(cases)('$name', async (c) => {
    await expectRefused(c);
  });
});

describe('YAML problems are reported with a key, a position in the file and plain words', () => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]', 'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]', 'd: [*c, *c, *c, *c, *c, *c, *c, *c, *c]', ''].join('\n');
  const cases: Case[] = [
    { name: 'an alias bomb', file: bomb, where: '4:5 d.0', message: 'these aliases expand to too large a value (an alias bomb)' },
    { name: 'two documents', file: 'hostname: a.example.com\n---\nhostname: b.example.com\n', where: '2:1', message: 'a second YAML document starts here (config.yml is one YAML document' },
    { name: 'an unclosed bracket', file: 'hostname: a.example.com\napp: [\n', where: '2:6', message: 'flow sequence' },
    { name: 'a rate without its slash', file: 'frontend:\n  rate_limits:\n    api: 10rs\n', where: '3:10 frontend.rate_limits.api', message: 'expected a rate such as 10r/s or 5r/m' },
  ];
  it.each(cases)('$name', async (c) => {
    const report = await expectRefused(c);
    expect(report).not.toMatch(/parseAllDocuments|resource exhaustion/);
  });

  it('config set on a one-line file never reports a position in the text it did not write', async () => {
    const { home, configPath } = await homeWith('hostname: bad_host');
    const before = await snapshot(home);
    const own = await msting(home, ['config', 'set', 'mail.smtp.port', '0']);
    expect(own.code).toBe(3);
    expect(own.stderr).toContain('  msting config set: mail.smtp.port: expected a port from 1 to 65535, got 0');
    // The problem already in the file keeps its place in the file as it is on disk.
    expect(own.stderr).toContain(`  ${configPath}:1:11: hostname: expected a host name`);
    expect(own.stderr).not.toMatch(/config\.yml:[2-9]/);
    expect(await snapshot(home)).toEqual(before);
  });
});

describe('the report prints user values escaped', () => {
  it('a key with a newline and escape sequences forges no line and sends nothing to the terminal', async () => {
    const key = 'x\\n/etc/config.yml:1:1: fake problem\\e[2J';
    const title = `\\e]0;owned\\a${'y'.repeat(80)}`;
    const file = `images:\n  overrides:\n    "${key}": "a b"\nprofiles:\n  extra:\n    services: ["${title}"]\n`;
    const { home, configPath } = await homeWith(file);
    const run = await msting(home, ['config', 'validate']);
    expect(run.code).toBe(3);
    // eslint-disable-next-line no-control-regex -- no control character may reach the terminal
    expect(run.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
    const lines = run.stderr.trimEnd().split('\n');
    // The title line, one line per problem, the hint: no line starts with the forged path.
    expect(lines.filter((l) => l.startsWith('/etc/config.yml'))).toEqual([]);
    expect(lines).toContain(`  ${configPath}:3:5: images.overrides.x\\n/etc/config.yml:1:1: fake problem\\e[2J: expected a key of printable text, got "x\\n/etc/config.yml:1:1: fake problem\\e[2J"`);
    // A long value is cut after escaping, so the escape at its start is shown, not sent.
    const long = lines.find((l) => l.includes('profiles.extra.services.0'));
    expect(long).toContain('got "\\e]0;owned\\x07yyyy');
    expect(long).toMatch(/y\.\.\."/);
  });
});

describe('every string has a length cap', () => {
  it('refuses a 10 MB sender name and shows only the start of it', async () => {
    const report = await expectRefused({ name: 'long', file: `mail:\n  from_name: ${'a'.repeat(10 * 1024 * 1024)}\n`, where: '2:14 mail.from_name', message: 'expected at most 128 characters, got "aaa' });
    expect(report.length).toBeLessThan(1000);
    // Parsing 10 MB twice (validate, render) takes seconds on a busy machine.
  }, 90_000);

  it('names the cap of every text field in the schema and in its description', () => {
    // An enum, a constant or an IP address format bounds its own length.
    const isFreeText = (n: Record<string, unknown>): boolean => n.type === 'string' && !n.enum && n.const === undefined && n.format !== 'ipv4' && n.format !== 'ipv6';
    const problems: string[] = [];
    const strings = (node: Record<string, unknown>): Record<string, unknown>[] =>
      [node, ...((node.anyOf as Record<string, unknown>[] | undefined) ?? [])].flatMap((n) => (n.type === 'array' && n.items ? strings(n.items as Record<string, unknown>) : isFreeText(n) ? [n] : []));
    const visit = (node: unknown, path: string): void => {
      if (node === null || typeof node !== 'object') return;
      const n = node as Record<string, unknown>;
      const texts = strings(n);
      if (texts.some((t) => typeof t.maxLength !== 'number')) problems.push(`${path}: no maxLength`);
      if (typeof n.description === 'string' && texts.length > 0 && !/At most \d+ characters/.test(n.description)) problems.push(`${path}: cap not described`);
      for (const [k, v] of Object.entries(n)) visit(v, `${path}/${k}`);
    };
    visit(buildJsonSchema(), '#');
    expect(problems).toEqual([]);
  });
});
