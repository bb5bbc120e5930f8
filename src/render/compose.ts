import { createHash } from 'node:crypto';
import { posix } from 'node:path';
import { RENDER_PATHS, envFilePath, memoryLimit, type MountPlan, type ServicePlan, type StackPlan } from '../stack/plan.js';
import { escapeComposeInterpolation, toYaml } from './yaml.js';

/**
 * The compose file as data. Paths are relative to the compose file's directory, so the
 * rendered tree works wherever it is written (install directory or `--output DIR`).
 */

const COMPOSE_DIR = posix.dirname(RENDER_PATHS.composeFile);

function fromComposeDir(installRelative: string): string {
  if (posix.isAbsolute(installRelative)) return installRelative;
  const rel = posix.relative(COMPOSE_DIR, installRelative);
  return rel.startsWith('.') ? rel : `./${rel}`;
}

function mount(m: MountPlan): Record<string, unknown> {
  const entry: Record<string, unknown> = { type: m.type, source: m.type === 'bind' ? fromComposeDir(m.source) : m.source, target: m.target };
  if (m.readOnly) entry.read_only = true;
  // Rendered config files always exist; never let Docker create a directory in a file's place.
  if (m.type === 'bind') entry.bind = { create_host_path: !m.source.startsWith(`${RENDER_PATHS.serviceConfigDir}/`) };
  return entry;
}

/**
 * Container labels Docker's json-file driver writes into every log line (`attrs`), so Promtail,
 * reading the host's container logs, keeps this install's lines and drops every other container's.
 */
export const LOG_LABELS = ['com.docker.compose.project', 'com.docker.compose.service'] as const;

function service(s: ServicePlan, hasEnvFile: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {
    image: s.image,
    container_name: s.containerName ?? undefined,
    restart: s.restart,
    // Every network the service joins, each with STING-CE's container name as an alias, so
    // `sting-ce-<service>` resolves for STING-CE's code under any project name (and Kratos's
    // admin name on the app network alone).
    networks: Object.fromEntries(s.networks.map((n) => [n, { aliases: s.aliases[n] ?? [] }])),
    logging: { driver: 'json-file', options: { labels: LOG_LABELS.join(','), 'max-size': '10m', 'max-file': '3' } },
    security_opt: ['no-new-privileges:true'],
    cap_drop: ['ALL'],
    stop_grace_period: `${s.stopGracePeriodS}s`,
    init: s.group === 'model' ? true : undefined,
  };
  if (s.profiles.length > 0) out.profiles = s.profiles;
  if (s.capAdd.length > 0) out.cap_add = s.capAdd;
  if (s.user) out.user = s.user;
  if (s.readOnlyRootFs) out.read_only = true;
  if (s.tmpfs.length > 0) out.tmpfs = s.tmpfs;
  if (s.command) out.command = s.command;
  if (s.entrypoint) out.entrypoint = s.entrypoint;
  if (hasEnvFile) out.env_file = [fromComposeDir(envFilePath(s.name))];
  if (s.vaultTokenFile) out.secrets = [{ source: vaultTokenSecret(s.name), target: 'vault-token' }];
  if (s.ports.length > 0) {
    out.ports = s.ports.map((p) => ({ target: p.target, published: String(p.published), host_ip: p.hostIp, protocol: p.protocol, mode: 'host' }));
  }
  // Ports it listens on but does not publish: documentation for readers of the file and `docker ps`.
  if (s.expose.length > 0) out.expose = s.expose.map(String);
  if (s.mounts.length > 0) out.volumes = s.mounts.map(mount);
  if (s.dependsOn.length > 0) {
    out.depends_on = Object.fromEntries(s.dependsOn.map((d) => [d.service, { condition: d.condition }]));
  }
  out.healthcheck = s.health
    ? {
        test: s.health.test,
        interval: `${s.health.intervalS}s`,
        timeout: `${s.health.timeoutS}s`,
        start_period: `${s.health.startPeriodS}s`,
        retries: s.health.retries,
      }
    : { disable: true };
  // The process limit sits with the other limits: compose refuses a service-level pids_limit
  // beside a deploy.resources.limits block.
  const resources: Record<string, unknown> = {
    limits: { memory: memoryLimit(s), pids: s.pidsLimit, ...(s.cpus !== null ? { cpus: String(s.cpus) } : {}) },
  };
  if (s.gpu?.driver === 'nvidia') {
    resources.reservations = {
      devices: [
        s.gpu.deviceIds.length > 0
          ? { driver: 'nvidia', device_ids: s.gpu.deviceIds, capabilities: ['gpu'] }
          : { driver: 'nvidia', count: 'all', capabilities: ['gpu'] },
      ],
    };
  }
  if (s.gpu?.driver === 'amd') {
    // ROCm containers reach the GPU through the kernel driver's device nodes.
    out.devices = ['/dev/kfd:/dev/kfd', '/dev/dri:/dev/dri'];
    out.group_add = ['video'];
  }
  out.deploy = { resources };
  out.labels = { 'org.sting-ce.msting.service': s.name, 'org.sting-ce.msting.group': s.group };
  for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
  return out;
}

function vaultTokenSecret(service: string): string {
  return `vault_token_${service.replaceAll('-', '_')}`;
}

/** Label carrying a hash of everything a service's container is made from (see serviceConfigHash). */
export const CONFIG_HASH_LABEL = 'org.sting-ce.msting.config-hash';

/**
 * A hash of a service's rendered definition and the contents of the files it reads (env file,
 * mounted config files). Compose recreates a container when its definition changes, but not when
 * a mounted file changes; with this label in the definition, a changed file changes the
 * definition too, and `update` can tell which running containers are out of date.
 */
export function serviceConfigHash(definition: Record<string, unknown>, files: ReadonlyArray<readonly [string, string]>): string {
  const hash = createHash('sha256').update(JSON.stringify(definition));
  for (const [path, content] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) hash.update(`\0${path}\0${content}`);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * The compose document for a plan; `envFiles` names the services that have an env file.
 * `contentOf` gives the rendered content of an install-relative file, for the config-hash label.
 */
export function buildComposeDocument(plan: StackPlan, envFiles: ReadonlySet<string>, contentOf?: (path: string) => string | undefined): Record<string, unknown> {
  const networks = Object.fromEntries(
    plan.networks.map((n) => {
      const network: Record<string, unknown> = { driver: 'bridge' };
      if (n.internal) network.internal = true;
      if (n.subnet) network.ipam = { config: [{ subnet: n.subnet }] };
      network.labels = { 'org.sting-ce.msting.network': n.description };
      return [n.name, network];
    }),
  );
  const withToken = plan.services.filter((s) => s.vaultTokenFile);
  return escapeComposeInterpolation({
    name: plan.project,
    ...(withToken.length > 0 ? { secrets: Object.fromEntries(withToken.map((s) => [vaultTokenSecret(s.name), { file: fromComposeDir(s.vaultTokenFile!) }])) } : {}),
    services: Object.fromEntries(
      plan.services.map((s) => {
        const definition = service(s, envFiles.has(s.name));
        if (contentOf) {
          const paths = [...s.configFiles, ...(envFiles.has(s.name) ? [envFilePath(s.name)] : [])];
          const files = paths.map((p) => [p, contentOf(p) ?? ''] as const);
          (definition.labels as Record<string, string>)[CONFIG_HASH_LABEL] = serviceConfigHash(definition, files);
        }
        return [s.name, definition];
      }),
    ),
    networks,
    volumes: Object.fromEntries(plan.volumes.map((v) => [v.name, { labels: { 'org.sting-ce.msting.volume': v.description } }])),
  });
}

export function renderComposeFile(plan: StackPlan, envFiles: ReadonlySet<string>, contentOf?: (path: string) => string | undefined): string {
  const header =
    '# Rendered by msting from config.yml; edits here are replaced on the next render.\n' +
    '# Put changes in docker-compose.override.yml beside this file: msting keeps it and applies it.\n';
  return header + toYaml(buildComposeDocument(plan, envFiles, contentOf));
}
