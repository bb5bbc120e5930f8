import { describe, expect, it } from 'vitest';
import { executeResetAuth, findRunningDb, resetKratosSql, type ResetAuthDeps } from '../../../src/lifecycle/reset-auth.js';
import type { ContainerDetails, ContainerInfo } from '../../../src/docker/engine.js';
import { MstingError } from '../../../src/errors.js';
import { cpuFallbackRecommendation } from '../../../src/hardware/types.js';
import type { LoadedStack } from '../../../src/lifecycle/stack.js';
import { container, details, makeConfig, makePlan } from './helpers.js';

function stack(): LoadedStack {
  const config = makeConfig();
  return { config, profile: 'default', plan: makePlan(), project: { name: 'sting-ce' } as LoadedStack['project'], recommendation: cpuFallbackRecommendation(config.llm.models) };
}

/** An engine whose containers change state as a real one would; every call is recorded. */
function fakes(opts: { psqlFails?: boolean; migrateExit?: number; dbState?: ContainerInfo['state'] } = {}) {
  const calls: string[] = [];
  const containers = new Map<string, ContainerInfo>([
    ['db', container('db', { id: 'db1', state: opts.dbState ?? 'running' })],
    ['kratos', container('kratos', { id: 'k1' })],
    ['kratos-migrate', container('kratos-migrate', { id: 'm1', state: 'exited', health: 'none' })],
    ['app', container('app', { id: 'a1' })],
  ]);
  const deps: ResetAuthDeps = {
    stack: stack(),
    signal: new AbortController().signal,
    pollMs: 1,
    onStep: (m) => calls.push(`step ${m}`),
    psql: async (id, sql) => {
      calls.push(`psql ${id} ${sql.split('\n')[0]}`);
      return opts.psqlFails ? { failed: true, stderr: 'ERROR:  database "kratos" is being accessed by other users\n' } : { failed: false, stderr: '' };
    },
    compose: {
      create: async (_p, services) => {
        calls.push(`create ${services.join(',')}`);
      },
    },
    engine: {
      listContainers: async () => [...containers.values()],
      stopContainer: async (id) => {
        calls.push(`stop ${id}`);
        for (const c of containers.values()) if (c.id === id) c.state = 'exited';
      },
      startContainer: async (id) => {
        calls.push(`start ${id}`);
        for (const c of containers.values()) if (c.id === id) c.state = 'running';
      },
      inspectContainer: async (id): Promise<ContainerDetails> => {
        if (id === 'm1') return details({ id, state: 'exited', health: 'none', hasHealthcheck: false, exitCode: opts.migrateExit ?? 0 });
        return details({ id, state: 'running', health: 'healthy' });
      },
    },
  };
  return { deps, calls };
}

describe('reset-auth', () => {
  it('stops kratos, recreates only its database, reruns the migration, then starts kratos', async () => {
    const { deps, calls } = fakes();
    await executeResetAuth(deps, await findRunningDb(deps), 10);
    const order = calls.filter((c) => !c.startsWith('step'));
    expect(order).toEqual(['stop k1', 'psql db1 DROP DATABASE IF EXISTS "kratos" WITH (FORCE);', 'create kratos-migrate', 'start m1', 'create kratos', 'start k1']);
    expect(calls.some((c) => c.includes('a1'))).toBe(false);
  });

  it('the SQL recreates the database owned by the kratos role and touches no other database', () => {
    const sql = resetKratosSql();
    expect(sql).toMatch(/CREATE DATABASE "kratos" OWNER "kratos_user";/);
    expect(sql).toMatch(/\\connect "kratos"/);
    expect(sql).not.toMatch(/sting_app|sting_messaging|sting_knowledge/);
  });

  it('refuses before stopping anything when the database is not running', async () => {
    const { deps, calls } = fakes({ dbState: 'exited' });
    await expect(findRunningDb(deps)).rejects.toThrow(/database is not running/);
    expect(calls).toEqual([]);
  });

  it('a failed psql stops with exit 5, names the cause, and does not start the migration', async () => {
    const { deps, calls } = fakes({ psqlFails: true });
    const err = await executeResetAuth(deps, 'db1', 10).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MstingError);
    expect((err as MstingError).exitCode).toBe(5);
    expect((err as MstingError).message).toMatch(/being accessed by other users/);
    expect((err as MstingError).hint).toMatch(/kratos is stopped/);
    expect(calls.some((c) => c.startsWith('create'))).toBe(false);
  });

  it('a migration that exits non-zero fails the reset and kratos is not started', async () => {
    const { deps, calls } = fakes({ migrateExit: 1 });
    await expect(executeResetAuth(deps, 'db1', 10)).rejects.toThrow(/kratos-migrate did not finish/);
    expect(calls).not.toContain('create kratos');
  });
});
