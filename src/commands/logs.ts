import type { Context } from '../context.js';
import { detectDocker, type DockerSetup } from '../docker/detect.js';
import { ExitCode, MstingError } from '../errors.js';
import { checkServiceNames, stackGraph } from '../lifecycle/graph.js';
import { parseSince, streamLogs } from '../lifecycle/logs.js';
import { loadStack } from '../lifecycle/stack.js';
import type { Tone } from '../ui/output.js';

export interface LogsCommandOptions {
  services: string[];
  follow: boolean;
  tail?: number | undefined;
  since?: string | undefined;
}

export interface LogsDeps {
  docker(ctx: Context): Promise<DockerSetup>;
}

export const defaultDeps: LogsDeps = {
  docker: (ctx) => detectDocker({ env: ctx.env, cwd: ctx.home, needCompose: false }),
};

const TONES: Tone[] = ['cyan', 'yellow', 'green', 'bold', 'red'];

/**
 * `msting logs [SERVICE...]`: the services' logs (default: every container of the project),
 * interleaved, each line prefixed with its service's name. Log lines go to stdout (they are the
 * answer); under --json each is an NDJSON object {service, stream, time, text}. Ctrl-C ends
 * --follow cleanly with exit 0: stopping to follow is how following ends.
 */
export async function run(options: LogsCommandOptions, ctx: Context, deps: LogsDeps = defaultDeps): Promise<number> {
  const since = options.since !== undefined ? parseSince(options.since) : undefined;
  const stack = await loadStack(ctx);
  if (stack.config.orchestrator === 'swarm') {
    const [{ swarmLogs }, { createSwarmEngine }] = await Promise.all([import('../swarm/lifecycle.js'), import('../docker/swarm.js')]);
    const width = Math.max(...(options.services.length > 0 ? options.services : stack.plan.services.map((s) => s.name)).map((s) => s.length));
    const names = stack.plan.services.map((s) => s.name);
    await swarmLogs(stack, createSwarmEngine(ctx.env), options.services, { env: ctx.env, signal: ctx.signal, follow: options.follow, tail: options.tail, since: options.since }, (service, text) => {
      if (ctx.out.json) ctx.out.event({ service, text });
      else ctx.out.stdout.write(`${ctx.out.paint(TONES[names.indexOf(service) % TONES.length]!, `${service.padEnd(width)} |`)} ${text}\n`);
    }).catch((err: unknown) => {
      if (!ctx.signal.aborted) throw err;
    });
    return ExitCode.ok;
  }
  const { engine } = await deps.docker(ctx);
  const all = await engine.listContainers(stack.project.name);
  if (options.services.length > 0) {
    const known = new Set([...stack.plan.services.map((s) => s.name), ...all.map((c) => c.service)]);
    const unknown = options.services.filter((s) => !known.has(s));
    if (unknown.length > 0) checkServiceNames(stackGraph(stack.plan), unknown, stack.profile);
  }
  const chosen = options.services.length > 0 ? all.filter((c) => options.services.includes(c.service)) : all;
  if (chosen.length === 0) {
    throw new MstingError('FAILURE', `no containers${options.services.length ? ` for ${options.services.join(', ')}` : ''} in project ${stack.project.name}`, {
      hint: 'start the stack first: msting start',
    });
  }
  const width = Math.max(...chosen.map((c) => c.service.length));
  const tone = new Map(chosen.map((c, i) => [c.service, TONES[i % TONES.length]!]));
  const out = ctx.out;
  await streamLogs(engine, chosen, { follow: options.follow, tail: options.tail, since }, ctx.signal, (line) => {
    if (out.json) {
      out.event({ service: line.service, stream: line.stream, time: line.time, text: line.text });
      return;
    }
    const prefix = out.paint(tone.get(line.service)!, `${line.service.padEnd(width)} |`);
    out.stdout.write(`${prefix} ${line.text}\n`);
  }).catch((err: unknown) => {
    if (!ctx.signal.aborted) throw err;
  });
  return ExitCode.ok;
}
