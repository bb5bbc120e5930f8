import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Output } from '../../../src/ui/output.js';
import { ServiceProgress, StatusLine } from '../../../src/ui/progress.js';
import { FakeTty, replay } from '../../support/screen.js';

const SERVICES = ['vault', 'db', 'redis', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge'];
const FINAL = new Set(['healthy', 'running', 'completed', 'failed', 'skipped']);

function terminal(columns = 80): { out: Output; tty: FakeTty } {
  const tty = new FakeTty(columns);
  return { out: new Output('tty', false, false, { stdout: tty, stderr: tty }), tty };
}

/** Rows of the final screen that name a service, counted per service. */
function rowsPerService(screen: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of screen) {
    const name = /^ {2}(\S+) {2,}/.exec(line)?.[1];
    if (name && SERVICES.includes(name)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

describe('service progress on a terminal', () => {
  it('ends with each service shown once, its final state, and the lines printed meanwhile above the block', async () => {
    const { out, tty } = terminal();
    const progress = new ServiceProgress(out, SERVICES, (s) => FINAL.has(s), 'waiting for health');
    await progress.ready;
    for (const s of SERVICES) progress.update(s, 'starting');
    out.info('vault: unsealed with the shares stored on this host');
    for (const s of SERVICES) {
      progress.update(s, 'healthy');
      if (s === 'kratos') out.warn('a line printed while the block is drawn');
    }
    progress.close();

    const screen = replay(tty.written);
    expect([...rowsPerService(screen)].sort()).toEqual(SERVICES.map((s) => [s, 1]).sort());
    for (const s of SERVICES) expect(screen.find((l) => l.startsWith(`  ${s} `))).toMatch(/healthy/);
    expect(screen.indexOf('vault: unsealed with the shares stored on this host')).toBeLessThan(screen.findIndex((l) => l.startsWith('  vault ')));
    expect(screen).toContain('warning: a line printed while the block is drawn');
    expect(screen.some((l) => l.includes('waiting for health'))).toBe(false);
  });

  it('still draws each service once when the rows are wider than the terminal', async () => {
    const { out, tty } = terminal(30);
    const progress = new ServiceProgress(out, SERVICES, (s) => FINAL.has(s));
    await progress.ready;
    for (const s of SERVICES) progress.update(s, 'starting', 'recreated because its image or config changed');
    await new Promise((r) => setImmediate(r));
    for (const s of SERVICES) progress.update(s, 'healthy', 'recreated because its image or config changed');
    out.info('a message between two redraws');
    progress.close();
    const screen = replay(tty.written, 30);
    expect(screen.filter((l) => /^ {2}\S+ {2,}/.test(l)).map((l) => l.trim().split(/\s+/)[0])).toEqual(SERVICES);
  });

  it('prints a line per change in plain mode, and draws nothing in place', () => {
    const err = new PassThrough();
    let text = '';
    err.on('data', (d: Buffer) => (text += d.toString()));
    const out = new Output('plain', false, false, { stdout: new PassThrough().resume(), stderr: err });
    const progress = new ServiceProgress(out, ['db'], (s) => FINAL.has(s));
    progress.update('db', 'starting');
    progress.update('db', 'healthy');
    progress.close();
    expect(text).toMatch(/^db: starting \[\d+\.\ds\]\ndb: healthy \[\d+\.\ds\]\n$/);
  });
});

describe('status line on a terminal', () => {
  it('leaves nothing of itself on the screen when done, only the lines printed through Output', async () => {
    const { out, tty } = terminal();
    const line = new StatusLine(out);
    await line.ready;
    line.set('backup: database kratos  1.0 MiB  2.0 MiB/s');
    out.info('backup written');
    line.done();
    expect(replay(tty.written)).toEqual(['backup written']);
  });
});
