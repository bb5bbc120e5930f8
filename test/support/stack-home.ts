/**
 * An install directory for tests that install msting's own stack on the real engine with local
 * images: real PostgreSQL and Redis (the Debian test image), the Vault emulator, and busybox
 * stand-ins answering every other service's health check; ports from a base the test chose; health
 * checks every second through the user's compose override file, which msting keeps and applies.
 *
 *   const images = stackImages();
 *   const { work, home } = await writeStackHome({ prefix: 'msting-x-it-', project, basePort, images });
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './docker.js';

export interface StackImages {
  busybox: string;
  debian: string;
  vault: string;
}

/** Build (or find) the local test images and the Vault emulator image. Needs `npm run build` first. */
export function stackImages(): StackImages {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('build msting first: npm run build');
  execFileSync(join(ROOT, 'test', 'images', 'build.sh'), { stdio: ['ignore', 'ignore', 'inherit'] });
  const built = JSON.parse(readFileSync(join(ROOT, '.cache', 'test-images.json'), 'utf8')) as { busybox: string; debian: string };
  const vault = execFileSync(join(ROOT, 'test', 'vault-emulator', 'build-image.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
  return { ...built, vault };
}

/** Services run by busybox stand-ins unless `overrides` names another image. */
const STAND_INS = ['kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'chroma', 'knowledge', 'messaging'];
/** Port keys of the default profile, numbered from the base port in this order. */
const PORT_KEYS = ['vault', 'db', 'kratos', 'kratos-admin', 'app', 'frontend', 'mailpit', 'mailpit-ui', 'redis', 'messaging', 'knowledge'];
/** Services whose health checks run every second. */
const FAST_CHECKS = ['vault', 'db', 'redis', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge'];

export interface StackHomeOptions {
  /** Prefix of the temporary work directory. */
  prefix: string;
  project: string;
  basePort: number;
  images: StackImages;
  /** Images for particular services, in place of the stand-ins. */
  overrides?: Record<string, string>;
  /** Further lines of the `images:` section (for example `source_dir: ...`). */
  imageLines?: string[];
  /** Services whose images `images.source_dir` builds: given no stand-in. */
  sourceBuilt?: string[];
  /** Port keys numbered from the base port (default: those of the default profile). */
  portKeys?: readonly string[];
  /** Further top-level config.yml lines (for example a `vault:` section). */
  configLines?: string[];
  /**
   * Health-check start period per service, in seconds (default 60: failures during PostgreSQL's
   * first start, which runs initdb, do not count).
   */
  startPeriod?: (service: string) => number;
}

/** A work directory holding `home/` with conf/config.yml and compose/docker-compose.override.yml. */
export async function writeStackHome(options: StackHomeOptions): Promise<{ work: string; home: string }> {
  const { images, basePort } = options;
  const overrides = options.overrides ?? {};
  const work = await mkdtemp(join(tmpdir(), options.prefix));
  const home = join(work, 'home');
  await mkdir(join(home, 'conf'), { recursive: true });
  await mkdir(join(home, 'compose'), { recursive: true });
  await writeFile(
    join(home, 'conf', 'config.yml'),
    [
      'project:',
      `  name: ${options.project}`,
      ...(options.configLines ?? []),
      'images:',
      ...(options.imageLines ?? []).map((l) => `  ${l}`),
      '  overrides:',
      `    vault: ${images.vault}`,
      `    db: ${images.debian}`,
      `    redis: ${images.debian}`,
      ...Object.entries(overrides).map(([service, image]) => `    ${service}: ${image}`),
      ...STAND_INS.filter((s) => !(s in overrides) && !(options.sourceBuilt ?? []).includes(s)).map((s) => `    ${s}: ${images.busybox}`),
      'ports:',
      ...(options.portKeys ?? PORT_KEYS).map((p, i) => `  ${p}: ${basePort + i}`),
      '',
    ].join('\n'),
  );
  const startPeriod = options.startPeriod ?? (() => 60);
  const override = FAST_CHECKS.map((s) => `  ${s}:\n    healthcheck:\n      interval: 1s\n      start_period: ${startPeriod(s)}s\n      timeout: 5s\n      retries: 3\n`);
  await writeFile(join(home, 'compose', 'docker-compose.override.yml'), `services:\n${override.join('')}`);
  return { work, home };
}
