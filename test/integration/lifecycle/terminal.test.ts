import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { BIN, describeDocker, freePorts, msting, removeProject, ROOT, testImages, uniqueProject } from '../../support/docker.js';
import { replay } from '../../support/screen.js';

/**
 * What a person sees on a terminal: `msting restart frontend` run on a pseudo-terminal (util-linux
 * `script`), its output replayed into a screen, on the default profile's ten services (real
 * PostgreSQL and Redis, the Vault emulator, stand-ins for the rest), set up as
 * lifecycle.test.ts does.
 */

const SERVICES = ['vault', 'db', 'redis', 'kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge'];
const PORT_KEYS = ['vault', 'db', 'kratos', 'kratos-admin', 'app', 'frontend', 'mailpit', 'mailpit-ui', 'redis', 'messaging', 'knowledge'];
const COLUMNS = 100;

let home: string | undefined;
let project: string | undefined;

/** Run the CLI on a pseudo-terminal of COLUMNS columns; everything it drew, as the terminal received it. */
function onTerminal(args: string[]): Promise<{ code: number; output: string }> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  return new Promise((resolve) => {
    execFile(
      'script',
      ['-qec', `stty cols ${COLUMNS} rows 50; ${quoted}`, '/dev/null'],
      { cwd: ROOT, env: { ...process.env, CI: '', NO_COLOR: '', TERM: 'xterm-256color' }, maxBuffer: 64 * 1024 * 1024, timeout: 240_000 },
      (err, stdout) => resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, output: stdout }),
    );
  });
}

describeDocker('msting on a terminal', () => {
  beforeAll(async () => {
    const images = testImages();
    home = mkdtempSync(join(tmpdir(), 'msting-tty-'));
    project = uniqueProject('msting-tty');
    const free = await freePorts(PORT_KEYS.length);
    const ports = Object.fromEntries(PORT_KEYS.map((k, i) => [k, free[i]!]));
    const overrides = Object.fromEntries(SERVICES.map((s) => [s, s === 'db' || s === 'redis' ? images.debian : s === 'vault' ? images.vault : images.busybox]));
    for (const dir of ['conf', 'compose', 'certs']) mkdirSync(join(home, dir), { recursive: true });
    writeFileSync(join(home, 'conf', 'config.yml'), stringify({ project: { name: project }, images: { overrides }, ports, stop_timeout: 5 }));
    const services = Object.fromEntries(SERVICES.filter((s) => s !== 'kratos-migrate').map((s) => [s, { healthcheck: { interval: '2s', timeout: '20s', start_period: '60s', retries: 10 } }]));
    writeFileSync(join(home, 'compose', 'docker-compose.override.yml'), stringify({ services }));
    const first = await msting(['--home', home, 'start', 'vault', '--timeout', '120']);
    if (first.code !== 5 || !/vault init/.test(first.stderr)) throw new Error(`start vault on a new Vault: exit ${first.code}\n${first.stderr}`);
    const init = await msting(['--home', home, 'vault', 'init']);
    if (init.code !== 0) throw new Error(`vault init: exit ${init.code}\n${init.stderr}`);
    const start = await msting(['--home', home, 'start', '--timeout', '180']);
    if (start.code !== 0) throw new Error(`start: exit ${start.code}\n${start.stderr}`);
  });
  afterAll(async () => {
    if (project) await removeProject(project);
    if (home) rmSync(home, { recursive: true, force: true });
  });

  it('restart frontend: the final screen shows each service once, every one up, and the summary', async () => {
    const run = await onTerminal(['--home', home!, 'restart', 'frontend']);
    const screen = replay(run.output, COLUMNS);
    expect(run.code, screen.join('\n')).toBe(0);
    // The service rows of the block: two spaces, a service name, its state.
    const rows = screen.filter((l) => /^ {2}\S+ {2,}\S/.test(l)).map((l) => l.trim().split(/\s+/));
    const names = rows.map((r) => r[0]!);
    expect(names.length, screen.join('\n')).toBeGreaterThanOrEqual(SERVICES.length - 1);
    expect(new Set(names).size, screen.join('\n')).toBe(names.length);
    expect(names.every((n) => SERVICES.includes(n))).toBe(true);
    // `restart frontend` brings up the frontend and what it depends on (messaging is not among them).
    for (const service of ['frontend', 'app', 'kratos', 'chroma']) expect(names, screen.join('\n')).toContain(service);
    expect(names, screen.join('\n')).not.toContain('messaging');
    for (const [name, state] of rows) expect(['healthy', 'running', 'completed'], `${name} ended ${state}`).toContain(state);
    expect(screen.some((l) => /^restarted \d+ services? of profile default in [\d.]+ s; all \d+ are up$/.test(l)), screen.join('\n')).toBe(true);
    // It was drawn live: the block was cleared line by line (cursor up), not printed a line per change.
    expect(run.output).toContain('\u001b[1A');
  });
});
