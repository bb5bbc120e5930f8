import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import Docker from 'dockerode';
import * as tar from 'tar-stream';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createBackupEngine } from '../../../src/docker/backup-engine.js';
import { readVolumeThroughPipe } from '../../../src/docker/volume-pipe.js';
import { describeDocker, testImages } from '../../support/docker.js';

/**
 * Volumes read through a named pipe on the real engine: what comes out is the volume, file for
 * file, with GNU tar (1 MiB records) and with busybox tar; an image that cannot run the pipe
 * route leaves nothing behind and lets the caller fall back.
 */

const LABEL = 'org.sting-ce.msting.helper';
const volume = `msting-pipe-${process.pid}`;
const noShellImage = `msting-test/no-shell:${process.pid}`;
let work: string;
let savedTmp: string | undefined;

const docker = (args: string[]): string => execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

interface Entry {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  linkname: string | null;
  data: string;
}

async function entries(stream: Readable): Promise<Map<string, Entry>> {
  const extract = tar.extract();
  stream.pipe(extract as unknown as NodeJS.WritableStream);
  const out = new Map<string, Entry>();
  for await (const entry of extract) {
    const parts: Buffer[] = [];
    for await (const chunk of entry) parts.push(chunk as Buffer);
    const h = entry.header;
    out.set(h.name.replace(/^\.\//, ''), { type: h.type ?? 'file', mode: (h.mode ?? 0) & 0o7777, uid: h.uid ?? 0, gid: h.gid ?? 0, linkname: h.linkname ?? null, data: Buffer.concat(parts).toString('latin1') });
  }
  return out;
}

const helpers = (): string => docker(['ps', '-aq', '--filter', `label=${LABEL}`]);

describeDocker('reading a volume through a named pipe', () => {
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'msting-pipe-it-'));
    savedTmp = process.env.TMPDIR;
    process.env.TMPDIR = work;
    docker(['volume', 'create', volume]);
    // A nested tree, a file owned by another user with its own mode, a symlink, and 3 MiB of data (several records).
    docker([
      'run', '--rm', '-v', `${volume}:/v`, '--entrypoint', 'sh', testImages().busybox, '-c',
      'mkdir -p /v/a/b && echo hello > /v/a/b/note.txt && echo private > /v/secret && chown 1000:1001 /v/secret && chmod 640 /v/secret && ln -s a/b/note.txt /v/link && head -c 3145728 /dev/zero | tr "\\0" x > /v/big.bin',
    ]);
    const ctx = join(work, 'no-shell');
    execFileSync('mkdir', ['-p', ctx]);
    await writeFile(join(ctx, 'marker'), 'an image with neither a shell nor tar\n');
    await writeFile(join(ctx, 'Dockerfile'), 'FROM scratch\nCOPY marker /marker\n');
    docker(['build', '-q', '-t', noShellImage, ctx]);
  }, 120_000);

  afterAll(async () => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
    // A helper left by a failed test would hold the volume and keep it from going.
    const left = helpers().split('\n').filter(Boolean);
    if (left.length > 0) execFileSync('docker', ['rm', '-f', ...left], { stdio: 'ignore' });
    execFileSync('docker', ['volume', 'rm', '-f', volume], { stdio: 'ignore' });
    execFileSync('docker', ['image', 'rm', '-f', noShellImage], { stdio: 'ignore' });
    if (work) await rm(work, { recursive: true, force: true });
  });

  it.each([
    ['GNU tar', () => testImages().debian],
    ['busybox tar', () => testImages().busybox],
  ])('streams every file with its owner, mode and link target (%s), and cleans up', async (_name, image) => {
    const reader = await readVolumeThroughPipe(new Docker(), volume, image(), { [LABEL]: 'test' });
    expect(reader).toBeDefined();
    expect(reader!.tar).toBeInstanceOf(Socket);
    const got = await entries(reader!.tar);
    await reader!.finished;
    expect(got.get('a/b/note.txt')).toMatchObject({ type: 'file', data: 'hello\n' });
    expect(got.get('secret')).toMatchObject({ type: 'file', uid: 1000, gid: 1001, mode: 0o640, data: 'private\n' });
    expect(got.get('link')).toMatchObject({ type: 'symlink', linkname: 'a/b/note.txt' });
    expect(got.get('big.bin')?.data).toBe('x'.repeat(3 * 1024 * 1024));
    expect(helpers()).toBe('');
    expect((await readdir(work)).filter((n) => n.startsWith('msting-volume-'))).toEqual([]);
  });

  it('reports an image that cannot run tar as unusable, leaving no container and no pipe behind', async () => {
    const reader = await readVolumeThroughPipe(new Docker(), volume, noShellImage, { [LABEL]: 'test' });
    expect(reader).toBeUndefined();
    expect(helpers()).toBe('');
    expect((await readdir(work)).filter((n) => n.startsWith('msting-volume-'))).toEqual([]);
  });

  it('gives no reader when stopped while tar starts, leaving no container and no pipe behind', async () => {
    const abort = new AbortController();
    const reading = readVolumeThroughPipe(new Docker(), volume, testImages().busybox, { [LABEL]: 'test' }, abort.signal);
    // After the call has begun, before its helper could have started.
    setTimeout(() => abort.abort(), 0);
    await expect(reading).rejects.toThrow(/interrupted/);
    expect(helpers()).toBe('');
    expect((await readdir(work)).filter((n) => n.startsWith('msting-volume-'))).toEqual([]);
  });

  it('stops the copy on abort: the stream fails as interrupted and the helper is removed', async () => {
    const abort = new AbortController();
    const reader = await createBackupEngine(process.env).readVolume(volume, testImages().debian, abort.signal);
    const failed = new Promise<Error>((resolve) => reader.tar.once('error', resolve));
    abort.abort();
    expect((await failed).message).toMatch(/interrupted/);
    await reader.finished.catch(() => undefined);
    expect(helpers()).toBe('');
  });
});
