import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_LOG_KEEP, openRunLog } from '../../../src/install/run-log.js';

async function run(path: string, n: number, rotateBytes: number): Promise<void> {
  const log = await openRunLog(path, { command: 'test', rotateBytes });
  log.write({ event: 'operation', n });
  await log.close();
}

describe('the operation log rotates by size', () => {
  it('a full log moves to msting.log.1 at the next run; the new run starts a fresh file with mode 0600', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-runlog-'));
    const path = join(dir, 'msting.log');
    await writeFile(path, `${'x'.repeat(200)}\n`, { mode: 0o600 });
    await run(path, 1, 100);
    expect(await readFile(`${path}.1`, 'utf8')).toBe(`${'x'.repeat(200)}\n`);
    const fresh = (await readFile(path, 'utf8')).trim().split('\n');
    expect(fresh).toHaveLength(1);
    expect(JSON.parse(fresh[0]!)).toMatchObject({ event: 'operation', n: 1, command: 'test' });
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it('under the limit nothing moves; past it, at most RUN_LOG_KEEP old files are kept, newest first', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'msting-runlog-'));
    const path = join(dir, 'msting.log');
    await run(path, 0, 10_000);
    await run(path, 1, 10_000);
    expect(await readdir(dir)).toEqual(['msting.log']);
    // Every line is over 1 byte, so with a 1-byte limit each run rotates the previous one away.
    for (let n = 2; n <= 10; n++) await run(path, n, 1);
    const names = (await readdir(dir)).sort();
    expect(names).toEqual(['msting.log', ...Array.from({ length: RUN_LOG_KEEP }, (_, i) => `msting.log.${i + 1}`)]);
    const nOf = async (file: string) => (JSON.parse((await readFile(join(dir, file), 'utf8')).trim().split('\n').at(-1)!) as { n: number }).n;
    expect(await nOf('msting.log')).toBe(10);
    expect(await nOf('msting.log.1')).toBe(9);
    expect(await nOf(`msting.log.${RUN_LOG_KEEP}`)).toBe(10 - RUN_LOG_KEEP);
  });
});
