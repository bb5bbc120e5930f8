/**
 * An install directory for tests that install msting's own stack on the real engine with local
 * images: real PostgreSQL and Redis (the Debian test image), the Vault emulator, and busybox
 * stand-ins answering every other service's health check; ports from a base the test chose; health
 * checks every three seconds through the user's compose override file, which msting keeps and
 * applies. (Every check is an exec in the container, about a tenth of a CPU-second on the engine's
 * side: at one a second, ten services kept one CPU busy, and two test files run side by side.)
 *
 *   const images = stackImages();
 *   const { work, home } = await writeStackHome({ prefix: 'msting-x-it-', project, basePort, images });
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, testImages } from './docker.js';

export interface StackImages {
  busybox: string;
  debian: string;
  vault: string;
}

/** The local test images and the Vault emulator image (built by the global setup). Needs `npm run build` first. */
export function stackImages(): StackImages {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('build msting first: npm run build');
  const { busybox, debian, vault } = testImages();
  return { busybox, debian, vault };
}

/**
 * Services run by busybox stand-ins unless `overrides` names another image: those of the default
 * profile, then those the observability and full profiles add (model services aside).
 */
const STAND_INS = [
  ...['kratos-migrate', 'kratos', 'mailpit', 'app', 'frontend', 'chroma', 'knowledge', 'messaging'],
  ...['loki', 'promtail', 'grafana', 'log-forwarder', 'llm-gateway', 'chatbot', 'external-ai'],
];
/**
 * Port keys, numbered from the base port in this order: the default profile's, then the full
 * profile's (null: a number left unused, for a port msting never publishes).
 */
const PORT_KEYS = [
  ...['vault', 'db', 'kratos', 'kratos-admin', 'app', 'frontend', 'mailpit', 'mailpit-ui', null, 'messaging', 'knowledge'],
  ...['llm-gateway', 'chatbot', 'loki', null, 'grafana'],
];
/**
 * Services whose health checks run that often, per profile the test starts (the override file
 * may name only services the rendered compose file has).
 */
const FAST_CHECKS = {
  default: ['vault', 'db', 'redis', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge'],
  full: ['vault', 'db', 'redis', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge', 'loki', 'promtail', 'grafana', 'log-forwarder', 'llm-gateway', 'chatbot', 'external-ai'],
};

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
  /** Services whose images come from `images.registry` (imageLines names it): given no stand-in. */
  fromRegistry?: string[];
  /** Port keys numbered from the base port (default: those of the default profile). */
  portKeys?: readonly string[];
  /** Further top-level config.yml lines (for example a `vault:` section). */
  configLines?: string[];
  /** `images.source_dir`: a STING-CE source tree (its STING/ folder). */
  sourceDir?: string;
  /** The profile the test renders (default: default); `full` needs an `llm:` section in configLines whose models do not fit, or downloaded models. */
  profile?: keyof typeof FAST_CHECKS;
  /** Health-check interval and timeout of those services, in seconds (default 3 and 10: on a busy machine one check can take seconds). */
  healthCheck?: { intervalS: number; timeoutS: number };
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
      ...(options.sourceDir === undefined ? [] : [`  source_dir: ${JSON.stringify(options.sourceDir)}`]),
      ...(options.imageLines ?? []).map((l) => `  ${l}`),
      '  overrides:',
      `    vault: ${images.vault}`,
      `    db: ${images.debian}`,
      `    redis: ${images.debian}`,
      ...Object.entries(overrides).map(([service, image]) => `    ${service}: ${image}`),
      ...STAND_INS.filter((s) => !(s in overrides) && ![...(options.sourceBuilt ?? []), ...(options.fromRegistry ?? [])].includes(s)).map((s) => `    ${s}: ${images.busybox}`),
      'ports:',
      ...(options.portKeys ?? PORT_KEYS).flatMap((p, i) => (p === null ? [] : [`  ${p}: ${basePort + i}`])),
      '',
    ].join('\n'),
  );
  const startPeriod = options.startPeriod ?? (() => 60);
  const { intervalS, timeoutS } = options.healthCheck ?? { intervalS: 3, timeoutS: 10 };
  const override = FAST_CHECKS[options.profile ?? 'default'].map(
    (s) => `  ${s}:\n    healthcheck:\n      interval: ${intervalS}s\n      start_period: ${startPeriod(s)}s\n      timeout: ${timeoutS}s\n      retries: 3\n`,
  );
  await writeFile(join(home, 'compose', 'docker-compose.override.yml'), `services:\n${override.join('')}`);
  return { work, home };
}
