import type Docker from 'dockerode';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
  return { engine: createBackupEngine({}, docker), calls: () => calls };
}

const freezeFailure = (): Error =>
  Object.assign(new Error('(HTTP code 500) server error - Cannot pause container abc: OCI runtime pause failed: unable to freeze: unknown'), {
    statusCode: 500,
    json: { message: 'Cannot pause container abc: OCI runtime pause failed: unable to freeze: unknown' },
  });

describe('pausing a service for its volume copy', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('tries again when the freezer could not freeze the container in time', async () => {
    vi.useFakeTimers();
    const { engine, calls } = engineWithPauseFailures([freezeFailure(), freezeFailure()]);
    const paused = engine.pause('abc');
    await vi.runAllTimersAsync();
    await expect(paused).resolves.toBeUndefined();
    expect(calls()).toBe(3);
  });

  it('gives up after five attempts with Docker\'s own message', async () => {
    vi.useFakeTimers();
    const { engine, calls } = engineWithPauseFailures(Array.from({ length: 6 }, freezeFailure));
    const paused = engine.pause('abc');
    const outcome = expect(paused).rejects.toThrow(/pausing a service: .*unable to freeze/);
    await vi.runAllTimersAsync();
    await outcome;
    expect(calls()).toBe(5);
  });

  it('does not retry other failures', async () => {
    const gone = Object.assign(new Error('(HTTP code 404) no such container'), { statusCode: 404, json: { message: 'No such container: abc' } });
    const { engine, calls } = engineWithPauseFailures([gone]);
    await expect(engine.pause('abc')).rejects.toThrow(/No such container/);
    expect(calls()).toBe(1);
  });
});
