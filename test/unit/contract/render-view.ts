import { posix } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { RenderedFile } from '../../../src/render/render-stack.js';
import { RENDER_PATHS } from '../../../src/stack/plan.js';

/**
 * A rendered stack read back the way Docker Compose and the containers see it: the compose file
 * parsed, each service's environment (its env files, then compose `environment`), its mounts,
 * networks and names. Read from the rendered files, not from the plan, so the contract is checked
 * against what is written.
 */

export interface ComposeService {
  environment?: Record<string, unknown> | string[];
  env_file?: string | (string | { path: string })[];
  volumes?: (string | { type?: string; source?: string; target?: string; read_only?: boolean })[];
  tmpfs?: string | string[];
  read_only?: boolean;
  networks?: string[] | Record<string, { aliases?: string[] } | null>;
  container_name?: string;
  hostname?: string;
  healthcheck?: { test?: string | string[]; disable?: boolean };
  ports?: (string | number | { target?: number | string; published?: string | number })[];
  expose?: (string | number)[];
  command?: string | string[];
  entrypoint?: string | string[];
  labels?: Record<string, string> | string[];
}

export interface EnvValue {
  value: string;
  /** Where the value is set: an install-relative env file, or `compose environment`. */
  from: string;
}

export interface MountView {
  target: string;
  kind: 'volume' | 'bind' | 'tmpfs';
  readOnly: boolean;
}

export interface RenderView {
  profile: string;
  /** Install-relative path → rendered file, as `renderStack` returns them. */
  files: ReadonlyMap<string, Pick<RenderedFile, 'content' | 'mode'>>;
  composeText: string;
  services: Record<string, ComposeService>;
  has(service: string): boolean;
  env(service: string): Map<string, EnvValue>;
  mounts(service: string): MountView[];
  networks(service: string): string[];
  /** Service name, container name, host name and network aliases, per network. */
  namesOn(service: string): Map<string, string[]>;
  /** The rendered config files of a service (under compose/config/<service>/). */
  configFiles(service: string): Map<string, string>;
}

/** One value of an env file as Compose reads it (single quotes literal, double quotes escaped). */
export function unquoteEnvValue(raw: string): string {
  if (raw.length >= 2 && raw.startsWith("'") && raw.endsWith("'")) return raw.slice(1, -1);
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    return raw.slice(1, -1).replace(/\\(.)/g, (_, c: string) => ({ n: '\n', r: '\r', t: '\t' })[c] ?? c);
  }
  return raw.replace(/\s+#.*$/, '').trim();
}

export function parseEnvFile(content: string): Map<string, string> {
  const entries = new Map<string, string>();
  for (const line of content.split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/.exec(line);
    if (m) entries.set(m[1]!, unquoteEnvValue(m[2]!.trim()));
  }
  return entries;
}

const COMPOSE_DIR = posix.dirname(RENDER_PATHS.composeFile);

function list<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

/** Compose doubles every `$` of a literal value; a container sees one. */
function fromCompose(value: unknown): string {
  return String(value ?? '').replaceAll('$$', '$');
}

export function viewRender(files: RenderView['files'], profile: string): RenderView {
  const composeText = files.get(RENDER_PATHS.composeFile)?.content ?? '';
  const doc = (parseYaml(composeText) ?? {}) as { services?: Record<string, ComposeService> };
  const services = doc.services ?? {};
  const get = (service: string): ComposeService => services[service] ?? {};

  const env = (service: string): Map<string, EnvValue> => {
    const out = new Map<string, EnvValue>();
    for (const entry of list(get(service).env_file)) {
      const file = typeof entry === 'string' ? entry : entry.path;
      const path = posix.normalize(posix.join(COMPOSE_DIR, file));
      const content = files.get(path)?.content;
      if (content === undefined) continue;
      for (const [name, value] of parseEnvFile(content)) out.set(name, { value, from: path });
    }
    const environment = get(service).environment;
    if (Array.isArray(environment)) {
      for (const item of environment) {
        const [name = '', ...rest] = String(item).split('=');
        if (rest.length > 0) out.set(name, { value: fromCompose(rest.join('=')), from: 'compose environment' });
      }
    } else if (environment) {
      for (const [name, value] of Object.entries(environment)) if (value !== null) out.set(name, { value: fromCompose(value), from: 'compose environment' });
    }
    return out;
  };

  const mounts = (service: string): MountView[] => {
    const s = get(service);
    const out: MountView[] = [];
    for (const v of list(s.volumes)) {
      if (typeof v === 'string') {
        const parts = v.split(':');
        const target = parts.length === 1 ? parts[0]! : parts[1]!;
        const isBind = parts.length > 1 && /^[./~]/.test(parts[0]!);
        out.push({ target, kind: parts.length === 1 ? 'volume' : isBind ? 'bind' : 'volume', readOnly: parts[2]?.split(',').includes('ro') ?? false });
      } else if (v.target) {
        out.push({ target: v.target, kind: v.type === 'tmpfs' ? 'tmpfs' : v.type === 'bind' ? 'bind' : 'volume', readOnly: v.read_only === true });
      }
    }
    for (const t of list(s.tmpfs)) out.push({ target: t.split(':')[0]!, kind: 'tmpfs', readOnly: false });
    return out;
  };

  const networks = (service: string): string[] => {
    const n = get(service).networks;
    if (n === undefined) return services[service] ? ['default'] : [];
    return Array.isArray(n) ? n : Object.keys(n);
  };

  const namesOn = (service: string): Map<string, string[]> => {
    const s = get(service);
    const base = [service, s.container_name, s.hostname].filter((n): n is string => typeof n === 'string');
    const out = new Map<string, string[]>();
    for (const network of networks(service)) {
      const aliases = !Array.isArray(s.networks) && s.networks ? (s.networks[network]?.aliases ?? []) : [];
      out.set(network, [...base, ...aliases]);
    }
    return out;
  };

  const configFiles = (service: string): Map<string, string> => {
    const prefix = `${RENDER_PATHS.serviceConfigDir}/${service}/`;
    return new Map([...files].filter(([path]) => path.startsWith(prefix)).map(([path, file]) => [path, file.content]));
  };

  return { profile, files, composeText, services, has: (s) => services[s] !== undefined, env, mounts, networks, namesOn, configFiles };
}
