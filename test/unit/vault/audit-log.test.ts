import { describe, expect, it } from 'vitest';
import { readVaultAuditTail, rotateVaultAuditLog, type VaultContainer } from '../../../src/vault/audit-log.js';

const FILE = '/vault/logs/audit.log';

/** A vault container whose /vault/logs is a map of file → contents; stat, mv, tail act on it. */
function fakeVault(files: Record<string, string>) {
  const fs = new Map(Object.entries(files));
  const calls: string[] = [];
  const container: VaultContainer = {
    async exec(argv) {
      calls.push(argv.join(' '));
      const [cmd, ...args] = argv;
      if (cmd === 'stat') {
        const paths = args.slice(2);
        const lines = paths.map((p) => (fs.has(p) ? `${p} ${Buffer.byteLength(fs.get(p)!)}` : `stat: can't stat '${p}': No such file or directory`));
        return { exitCode: paths.every((p) => fs.has(p)) ? 0 : 1, output: `${lines.join('\n')}\n` };
      }
      if (cmd === 'mv') {
        const [, from, to] = args as [string, string, string];
        if (!fs.has(from)) return { exitCode: 1, output: `mv: can't rename '${from}': No such file or directory\n` };
        fs.set(to, fs.get(from)!);
        fs.delete(from);
        return { exitCode: 0, output: '' };
      }
      if (cmd === 'tail') {
        const [, n, path] = args as [string, string, string];
        if (!fs.has(path)) return { exitCode: 1, output: `tail: can't open '${path}': No such file or directory\n` };
        return { exitCode: 0, output: `${fs.get(path)!.split('\n').filter(Boolean).slice(-Number(n)).join('\n')}\n` };
      }
      return { exitCode: 127, output: `${cmd}: not found\n` };
    },
    async signal(signal) {
      calls.push(`kill -${signal}`);
      // Vault reopens its file: a fresh, empty audit.log.
      fs.set(FILE, '');
    },
  };
  return { fs, calls, container };
}

describe("rotating Vault's audit log", () => {
  it('over the threshold: shifts audit.log → .1 → .2 → .3, drops the oldest, then sends SIGHUP so Vault opens a fresh file', async () => {
    const v = fakeVault({ [FILE]: 'x'.repeat(200), [`${FILE}.1`]: 'one', [`${FILE}.2`]: 'two', [`${FILE}.3`]: 'three' });
    const r = await rotateVaultAuditLog(v.container, { thresholdBytes: 100 });
    expect(r).toMatchObject({ rotated: true, sizeBytes: 200 });
    expect(Object.fromEntries(v.fs)).toEqual({ [FILE]: '', [`${FILE}.1`]: 'x'.repeat(200), [`${FILE}.2`]: 'one', [`${FILE}.3`]: 'two' });
    // SIGHUP only once every file has moved: before it, Vault still writes to the renamed file.
    expect(v.calls.at(-1)).toBe('kill -SIGHUP');
    expect(v.calls.filter((c) => c.startsWith('mv'))).toEqual([`mv -f ${FILE}.2 ${FILE}.3`, `mv -f ${FILE}.1 ${FILE}.2`, `mv -f ${FILE} ${FILE}.1`]);
  });

  it('with no rotated files yet: audit.log becomes audit.log.1', async () => {
    const v = fakeVault({ [FILE]: 'x'.repeat(200) });
    await rotateVaultAuditLog(v.container, { thresholdBytes: 100 });
    expect(Object.fromEntries(v.fs)).toEqual({ [FILE]: '', [`${FILE}.1`]: 'x'.repeat(200) });
  });

  it('under the threshold, or with no audit log: nothing moves and no signal is sent', async () => {
    const small = fakeVault({ [FILE]: 'x'.repeat(50), [`${FILE}.1`]: 'one' });
    expect(await rotateVaultAuditLog(small.container, { thresholdBytes: 100 })).toMatchObject({ rotated: false, sizeBytes: 50 });
    expect(Object.fromEntries(small.fs)).toEqual({ [FILE]: 'x'.repeat(50), [`${FILE}.1`]: 'one' });
    expect(small.calls.filter((c) => !c.startsWith('stat'))).toEqual([]);

    const none = fakeVault({});
    expect(await rotateVaultAuditLog(none.container, { thresholdBytes: 100 })).toMatchObject({ rotated: false, sizeBytes: null });
    expect(none.calls.filter((c) => !c.startsWith('stat'))).toEqual([]);
  });

  it('a move that fails stops before SIGHUP and says which command failed', async () => {
    const v = fakeVault({ [FILE]: 'x'.repeat(200) });
    const exec = v.container.exec.bind(v.container);
    v.container.exec = async (argv) => (argv[0] === 'mv' ? { exitCode: 1, output: 'mv: Permission denied\n' } : exec(argv));
    await expect(rotateVaultAuditLog(v.container, { thresholdBytes: 100 })).rejects.toThrow(/mv -f .*audit\.log .*Permission denied/);
    expect(v.calls).not.toContain('kill -SIGHUP');
  });
});

describe("reading Vault's audit log for the support bundle", () => {
  it('gives the last lines, or a note when the file is missing or Vault is not running', async () => {
    const v = fakeVault({ [FILE]: Array.from({ length: 10 }, (_, i) => `{"n":${i}}`).join('\n') });
    expect(await readVaultAuditTail(v.container, 3)).toEqual({ ok: true, text: '{"n":7}\n{"n":8}\n{"n":9}\n' });
    const missing = await readVaultAuditTail(fakeVault({}).container);
    expect(missing.ok).toBe(false);
    expect(missing.ok ? '' : missing.note).toMatch(/could not be read.*No such file/);
    expect(await readVaultAuditTail(null)).toEqual({ ok: false, note: expect.stringMatching(/not running/) });
  });
});
