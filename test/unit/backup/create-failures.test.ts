import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { createBackup } from '../../../src/backup/create.js';
import type { BackupEngine, ExecSpec, ProjectContainer, ProjectVolume } from '../../../src/docker/backup-engine.js';
import { MstingError } from '../../../src/errors.js';
import { installLayout } from '../../../src/layout.js';

const db: ProjectContainer = {
  id: 'db-id',
  name: 'p-db-1',
  service: 'db',
  state: 'running',
  image: 'postgres:16',
  imageId: 'sha256:db',
  env: { POSTGRES_USER: 'postgres' },
  mounts: [{ type: 'volume', name: 'p_db_data', destination: '/var/lib/postgresql/data', readOnly: false }],
};
const knowledge: ProjectContainer = {
  id: 'knowledge-id',
  name: 'p-knowledge-1',
  service: 'knowledge',
  state: 'running',
  image: 'knowledge',
  imageId: 'sha256:knowledge',
  env: {},
  mounts: [{ type: 'volume', name: 'p_knowledge_data', destination: '/data', readOnly: false }],
};
const volume = (key: string): ProjectVolume => ({ name: `p_${key}`, key, labels: {}, driver: 'local', options: {} });

/**
 * A stack whose pg_dump of sting_app fails once the copy of a large volume is under way: the copy
 * has sent the first part of a file into the archive and waits for the rest, as a real copy does
 * on a busy machine. Like the real engine, an abort destroys the volume's tar stream.
 */
function engineWhoseDumpFailsMidCopy(copying: Promise<void>): { engine: BackupEngine; unpaused: string[] } {
  const unpaused: string[] = [];
  const engine: Partial<BackupEngine> = {
    listContainers: async () => [db, knowledge],
    listVolumes: async () => [volume('db_data'), volume('knowledge_data')],
    async exec(_id: string, spec: ExecSpec) {
      const tool = spec.cmd[0];
      if (tool === 'psql') {
        const sql = spec.cmd.at(-1)!;
        return { exitCode: 0, stderr: '', stdout: sql.includes('server_version') ? '160002 16.2\n' : 'sting_app\n' };
      }
      if (tool === 'pg_dumpall') {
        spec.stdout!.write('-- globals\n');
        return { exitCode: 0, stderr: '', stdout: '' };
      }
      await copying;
      return { exitCode: 1, stderr: 'FATAL:  could not access file "msting_test_missing"\n', stdout: '' };
    },
    async readVolume(_name, _image, signal) {
      const pack = tar.pack();
      const tarStream = new PassThrough();
      pack.pipe(tarStream);
      // The pack behind the stream goes down with it; only the stream's own error is news.
      pack.on('error', () => undefined);
      const entry = pack.entry({ name: 'big.bin', size: 4 * 1024 * 1024 });
      entry.on('error', () => undefined);
      entry.write(Buffer.alloc(64 * 1024));
      signal?.addEventListener('abort', () => tarStream.destroy(new MstingError('INTERRUPTED', 'interrupted')), { once: true });
      const finished = new Promise<void>((resolve, reject) => {
        tarStream.on('close', resolve);
        tarStream.on('error', reject);
      });
      finished.catch(() => undefined);
      return { tar: tarStream, finished };
    },
    pause: async () => undefined,
    unpause: async (id) => {
      unpaused.push(id);
    },
    imageInfo: async (image) => ({ id: image, digests: [] }),
  };
  return { engine: engine as BackupEngine, unpaused };
}

describe('createBackup when a stage fails', () => {
  it("reports the dump's own failure (exit 5), not an interruption, when the dump fails in the middle of a volume copy", async () => {
    const work = await mkdtemp(join(tmpdir(), 'msting-create-'));
    const outputDir = join(work, 'out');
    let copyUnderWay!: () => void;
    const copying = new Promise<void>((resolve) => (copyUnderWay = resolve));
    const { engine, unpaused } = engineWhoseDumpFailsMidCopy(copying);
    const failure = await createBackup(
      engine,
      {
        project: 'p',
        stack: { imagesVersion: '1', imagesRegistry: 'r', profile: 'default' },
        layout: installLayout(join(work, 'home')),
        outputDir,
        encryption: { kind: 'none' },
        includeVaultKeys: false,
        mstingVersion: '0.0.0',
        signal: new AbortController().signal,
      },
      // The first bytes of the volume reached the archive: the copy is under way.
      { onBytes: () => copyUnderWay() },
    ).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(failure).toBeInstanceOf(MstingError);
    expect(failure).toMatchObject({ code: 'EXTERNAL', message: 'pg_dump of sting_app failed (exit 1)' });
    expect((failure as MstingError).exitCode).toBe(5);
    expect(await readdir(outputDir)).toEqual([]);
    expect(unpaused).toEqual(['knowledge-id']);
  });
});
