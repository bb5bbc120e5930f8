import { loadConfig } from '../config/load.js';
import { formatProblem } from '../config/problems.js';
import { isImageRegistry } from '../config/formats.js';
import type { Context } from '../context.js';
import { detectDocker } from '../docker/detect.js';
import { pushImage } from '../docker/registry.js';
import { ExitCode, usageError } from '../errors.js';
import { executePush, planPush, type PushedImage } from '../images/push.js';
import { quickPlan } from '../render/quick-plan.js';
import { readState } from '../install/state.js';
import { installLayout } from '../layout.js';
import { ServiceProgress } from '../ui/progress.js';

export interface ImagesPushOptions {
  registry: string;
  profile?: string | undefined;
}

/**
 * `msting images push --registry R [--profile P]`: tag the profile's STING-CE images as this host
 * has them (built from images.source_dir, pulled, or named in images.overrides) with the names
 * other hosts pull, `R/sting-ce-<service>:<images.version>`, push them, and print the
 * `images:` lines those hosts put in their config.yml.
 */
export async function run(options: ImagesPushOptions, ctx: Context): Promise<number> {
  const { out } = ctx;
  const registry = options.registry.replace(/\/+$/, '');
  if (!isImageRegistry(registry)) {
    throw usageError(`--registry ${options.registry} is not a registry address`, 'give host[:port] and an optional path in lower case, such as registry.example.com:5000/sting (the value images.registry takes)');
  }
  const loaded = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  for (const w of loaded.warnings) out.warn(formatProblem(w, loaded.path));
  const config = loaded.config;
  const profile = options.profile ?? (await readState(installLayout(ctx.home).stateFile))?.profile ?? config.profile;
  const items = planPush(config, quickPlan(config, profile, ctx.env), registry);
  const docker = await detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: false });

  const progress = out.json ? undefined : new ServiceProgress(out, items.map((i) => i.service), (s) => s === 'pushed', `pushing to ${registry}`);
  let pushed: PushedImage[];
  try {
    pushed = await executePush(
      items,
      {
        imagePresent: (reference) => docker.engine.imagePresent(reference),
        push: (item, onLine) => pushImage(item.source, item.target, { env: ctx.env, signal: ctx.signal, onLine, service: item.service }),
      },
      {
        onImage: (item, state, digest) => {
          if (out.json) out.event({ event: 'image', service: item.service, source: item.source, image: item.target, state, ...(digest ? { digest } : {}) });
          else progress?.update(item.service, state, state === 'pushed' ? (digest ?? undefined) : item.target);
        },
        onLine: (line) => out.debug(`  ${line}`),
      },
      ctx.signal,
    );
  } finally {
    progress?.close();
  }
  const configLines = [`images:`, `  registry: ${registry}`, `  version: ${JSON.stringify(config.images.version)}`];
  if (out.json) {
    out.event({
      event: 'summary',
      ok: true,
      registry,
      version: config.images.version,
      images: pushed.map((p) => ({ service: p.service, source: p.source, image: p.target, digest: p.digest })),
      config: { 'images.registry': registry, 'images.version': config.images.version },
    });
    return ExitCode.ok;
  }
  if (pushed.length === 0) {
    out.print(`profile ${profile} runs no STING-CE images: nothing to push`);
    return ExitCode.ok;
  }
  out.print(`pushed ${pushed.length} image${pushed.length === 1 ? '' : 's'} to ${registry}:`);
  for (const p of pushed) out.print(`  ${p.target}${p.digest ? `  ${p.digest}` : ''}`);
  out.print(`\nOn each host that should pull them, put in conf/config.yml (or run \`msting config set images.registry ${registry}\`):\n`);
  out.print(configLines.map((l) => `  ${l}`).join('\n'));
  out.print(`\nTo pin exactly these images, add under images.digests:`);
  for (const p of pushed) if (p.digest) out.print(`    ${p.service}: ${p.digest}`);
  return ExitCode.ok;
}
