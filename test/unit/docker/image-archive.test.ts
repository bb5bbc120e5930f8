import { closeSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createImageArchive, saveFailed } from '../../../src/docker/image-archive.js';

describe('a failed docker save', () => {
  it('a full disk keeps its errno code, so bundle create says the disk ran full', () => {
    const err = saveFailed({ stderr: 'write /dev/stdout: no space left on device\n', exitCode: 1 });
    expect(err.code).toBe('IO');
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  it("says the engine's own last line, without its prefix, with a hint", () => {
    const err = saveFailed({ stderr: 'Error response from daemon: reference does not exist\n', exitCode: 1 });
    expect(err.code).toBe('EXTERNAL');
    expect(err.message).toBe('Docker failed while saving images: reference does not exist');
    expect(err.hint).toMatch(/docker info/);
  });

  it('names the exit code when the command said nothing', () => {
    expect(saveFailed({ stderr: '', exitCode: 137 }).message).toBe('Docker failed while saving images: exit code 137');
  });

  it('an engine that is not there gets the message of every other engine call, and nothing is written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'msting-save-'));
    const socket = join(dir, 'no-engine.sock');
    const fd = openSync(join(dir, 'out.tar'), 'a');
    try {
      const archive = createImageArchive({ kind: 'unix', socketPath: socket, display: `unix://${socket}`, fromEnv: true }, { PATH: process.env.PATH, DOCKER_HOST: `unix://${socket}` });
      const err = await archive.saveTo(['busybox:1'], fd, new AbortController().signal).then(
        () => null,
        (e: unknown) => e as { message: string; hint?: string },
      );
      expect(err?.message).toMatch(/no Docker engine at unix:\/\/.*no-engine\.sock: the socket does not exist/);
      expect(err?.hint).toMatch(/DOCKER_HOST/);
      expect(statSync(join(dir, 'out.tar')).size).toBe(0);
    } finally {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
