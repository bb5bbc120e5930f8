import { availableParallelism } from 'node:os';
import { configDefaults, defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          globalSetup: ['test/support/unit-tmpdir.ts'],
          testTimeout: 20_000,
          // Vitest's default leaves one CPU to its main process: on two CPUs, one worker.
          maxWorkers: Math.max(2, availableParallelism() - 1),
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          exclude: [...configDefaults.exclude, 'test/integration/swarm/**'],
          globalSetup: ['test/support/docker-global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Two files at a time, each with its own compose projects and its own range of host
          // ports (test/support/docker.ts): most of a file's time is spent waiting on the engine.
          maxWorkers: 2,
          // After the unit tests, which use every CPU.
          sequence: { groupOrder: 1 },
        },
      },
      {
        test: {
          name: 'swarm',
          include: ['test/integration/swarm/**/*.test.ts'],
          globalSetup: ['test/support/docker-global-setup.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          // Alone, after every other file: the swarm test bed makes the engine a swarm manager and
          // then leaves the swarm, and leaving (Docker 20.10) drops the DNS names of every running
          // container on the engine's bridge networks: another file's stack would lose them. (A
          // group runs its files with one maxWorkers, so this cannot share the unit tests' group.)
          maxWorkers: 1,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
