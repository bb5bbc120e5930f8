import type Docker from 'dockerode';
import { describe, expect, it } from 'vitest';
import { createBackupEngine } from '../../../src/docker/backup-engine.js';

/** A container whose pause fails with the given errors, one per call, then succeeds. */
function engineWithPauseFailures(failures: Error[]): { engine: ReturnType<typeof createBackupEngine>; calls: () => number } {
  let calls = 0;
  const docker = {
    getContainer: () => ({
      pause: async () => {
        calls += 1;
        const err = failures.shift();
        if (err) throw err;
      },
    }),
  } as unknown as Docker;
  return { engine: createBackupEngine({}, docker, { pauseRetryMs: 1 }), calls: () => calls };
}

const freezeFailure = (): Error =>
  Object.assign(new Error('(HTTP code 500) server error - Cannot pause container abc: OCI runtime pause failed: unable to freeze: unknown'), {
    statusCode: 500,
    json: { message: 'Cannot pause container abc: OCI runtime pause failed: unable to freeze: unknown' },
  });

describe('pausing a service for its volume copy', () => {
  it('tries again when the freezer could not freeze the container in time', async () => {
    const { engine, calls } = engineWithPauseFailures([freezeFailure(), freezeFailure()]);
    await expect(engine.pause('abc')).resolves.toBeUndefined();
    expect(calls()).toBe(3);
  });

  it('gives up after five attempts with Docker\'s own message', async () => {
    const { engine, calls } = engineWithPauseFailures(Array.from({ length: 6 }, freezeFailure));
    await expect(engine.pause('abc')).rejects.toThrow(/pausing a service: .*unable to freeze/);
    expect(calls()).toBe(5);
  });

  it('does not retry other failures', async () => {
    const gone = Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404, json: { message: 'No such container: abc' } });
    const { engine, calls } = engineWithPauseFailures([gone]);
    await expect(engine.pause('abc')).rejects.toThrow(/No such container/);
    expect(calls()).toBe(1);
  });
});
