import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeRendered } from '../../../src/render/write.js';
import { gpuRecommendation, makeConfig, render } from '../../unit/render/fixtures.js';

const exec = promisify(execFile);

async function composeAvailable(): Promise<boolean> {
  try {
    await exec('docker', ['compose', 'version'], { timeout: 20_000 });
    return true;
  } catch {
    return false;
  }
}

const available = await composeAvailable();
const ci = Boolean(process.env.CI) && process.env.CI !== 'false' && process.env.CI !== '0';
if (!available && ci) throw new Error('docker compose is required under CI for test/integration/render');

async function composeConfig(dir: string, profile: string, ...extra: string[]): Promise<string> {
  const file = join(dir, 'compose', 'docker-compose.yml');
  const { stdout } = await exec('docker', ['compose', '-f', file, '--profile', profile, 'config', ...extra], { timeout: 60_000, cwd: dir, env: { ...process.env, COMPOSE_PROJECT_NAME: '' } });
  return stdout;
}

describe.skipIf(!available)('rendered compose files are accepted by docker compose config (skipped: docker compose is not installed)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'msting-compose-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  for (const profile of ['default', 'observability', 'full']) {
    it(`profile ${profile}`, async () => {
      const config = makeConfig({ hostname: 'sting.example.com', mail: { from_name: "O'Brien $HOME ${X}\nsecond line" } });
      const out = join(dir, profile);
      await writeRendered(render(config, profile).files, out);
      await composeConfig(out, profile, '--quiet');
      const resolved = JSON.parse(await composeConfig(out, profile, '--format', 'json')) as {
        services: Record<string, { environment?: Record<string, string>; command?: string[]; ports?: unknown[] }>;
      };
      const expected = render(config, profile).plan.services.map((s) => s.name).sort();
      expect(Object.keys(resolved.services).sort()).toEqual(expected);
      // Env files and `$` reach the containers literally (compose's own output writes `$` as `$$`).
      const literal = (text: string) => text.replaceAll('$$', '$');
      expect(literal(resolved.services.app!.environment!.WEBAUTHN_RP_NAME!)).toBe("O'Brien $HOME ${X}\nsecond line");
      expect(resolved.services.app!.environment!.DATABASE_URL).toBe('postgresql://app_user:fake-db-app@db:5432/sting_app');
      // Redis without a password (STING-CE's clients use none), so never published.
      expect(resolved.services.redis!.command).not.toContain('requirepass');
      expect(resolved.services.redis!.ports ?? []).toEqual([]);
      expect(resolved.services.app!.environment!.REDIS_URL).toBe('redis://redis:6379/0');
    });
  }

  it('full profile with a GPU reservation', async () => {
    const config = makeConfig();
    const out = join(dir, 'gpu');
    await writeRendered(render(config, 'full', { recommendation: gpuRecommendation(config) }).files, out);
    const resolved = JSON.parse(await composeConfig(out, 'full', '--format', 'json')) as { services: Record<string, { deploy?: { resources?: { reservations?: { devices?: unknown[] } } } }> };
    expect(resolved.services.phi3!.deploy!.resources!.reservations!.devices).toHaveLength(1);
  });
});
