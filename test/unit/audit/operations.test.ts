import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { main } from '../../../src/cli.js';

let home: string | undefined;
afterEach(async () => {
  if (home) await rm(home, { recursive: true, force: true });
  home = undefined;
});

async function msting(args: string[], env: NodeJS.ProcessEnv = {}): Promise<number> {
  const sink = (): PassThrough => new PassThrough().resume();
  return main(['node', 'msting', '--home', home!, ...args], { stdout: sink(), stderr: sink() }, { PATH: process.env.PATH, NO_COLOR: '1', CI: '1', VAULT_ADDR: 'http://127.0.0.1:1', ...env });
}

async function operations(): Promise<Array<Record<string, unknown>>> {
  const text = await readFile(join(home!, 'logs', 'msting.log'), 'utf8');
  return text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === 'operation');
}

describe('audit trail of msting operations', () => {
  it('records who ran each change, what and the result; never a secret value; reads leave no line', async () => {
    home = await mkdtemp(join(tmpdir(), 'msting-audit-'));
    await mkdir(join(home, 'secrets'), { recursive: true, mode: 0o700 });
    const storedSecret = 'hvs.stored-admin-token-0123456789';
    await writeFile(join(home, 'secrets', 'vault-admin-token'), `${storedSecret}\n`, { mode: 0o600 });

    expect(await msting(['config', 'init'])).toBe(0);
    expect(await msting(['config', 'set', 'mail.from_name', 'Sting Ops'])).toBe(0);
    expect(await msting(['config', 'show'])).toBe(0);
    const typed = 'sk-typed-on-the-command-line-9876';
    expect(await msting(['vault-secret', 'set', 'openai', typed], { SUDO_USER: 'alice' })).toBe(5);
    // A dry run changes nothing, so it leaves no line, whatever its outcome.
    expect(await msting(['restore', join(home, 'no-such-backup.tar'), '--dry-run'])).not.toBe(0);

    const ops = await operations();
    expect(ops.map((o) => o.command)).toEqual(['config init', 'config set', 'vault-secret set']);
    for (const o of ops) {
      expect(o.uid).toBe(process.getuid!());
      expect(o.user).toBe(userInfo().username);
      expect(typeof o.time).toBe('string');
    }
    expect(ops[0]).toMatchObject({ result: 'ok', exit_code: 0, args: [] });
    expect(ops[1]).toMatchObject({ result: 'ok', args: ['mail.from_name'] });
    expect(ops[2]).toMatchObject({ result: 'failed', exit_code: 5, args: ['openai'], sudo_user: 'alice', error: { code: 'VAULT' } });
    const raw = await readFile(join(home, 'logs', 'msting.log'), 'utf8');
    expect(raw).not.toContain(typed);
    expect(raw).not.toContain('Sting Ops');
    expect(raw).not.toContain(storedSecret);
    expect((await stat(join(home, 'logs', 'msting.log'))).mode & 0o777).toBe(0o600);
  });
});
