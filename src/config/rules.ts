import { BUILTIN_PROFILES, DEFAULT_PORTS, FIXED_SERVICES, LLM_SERVICES, UNPUBLISHED_PORT_KEYS, type PortKey } from '../stack/names.js';
import type { MstingConfig } from './schema.js';
import type { RuleProblem } from './problems.js';
import { didYouMean } from './suggest.js';
import { quoteValue } from './quote.js';

/**
 * Cross-field rules: what no single field can check. Each rule is pure and reports problems by
 * key path; the validator finds their line and column. Callers add their own (hardware-dependent
 * ones, for example) through `extraRules`, in the same shape.
 */

export interface RuleContext {
  /** The profile that will run: --profile when given, else the config's `profile`. */
  profile: string;
  /** Whether a key path is written in the file (or set by an override), not just defaulted. */
  isSet(path: readonly (string | number)[]): boolean;
}

export type ConfigRule = (config: MstingConfig, context: RuleContext) => RuleProblem[];

/** Names a service key (images.overrides, resources, profile services) may use. */
export function knownServiceNames(config: MstingConfig): string[] {
  return [...FIXED_SERVICES, ...config.llm.models.map((m) => m.name)];
}

export function knownProfileNames(config: MstingConfig): string[] {
  return [...BUILTIN_PROFILES, ...Object.keys(config.profiles)];
}

/** Whether a profile starts the LLM gateway and model services. */
export function profileRunsLlm(config: MstingConfig, profile: string): boolean {
  if (profile === 'full') return true;
  const custom = config.profiles[profile];
  if (!custom) return false;
  if (custom.extends === 'full') return true;
  const models = new Set(config.llm.models.map((m) => m.name));
  return custom.services.some((s) => (LLM_SERVICES as readonly string[]).includes(s) || models.has(s));
}

const uniquePorts: ConfigRule = (config, context) => {
  const owners = new Map<number, PortKey>();
  const problems: RuleProblem[] = [];
  for (const [key, value] of Object.entries(config.ports) as [PortKey, number | undefined][]) {
    // An unset port and one msting never publishes claim nothing on the host.
    if (value === undefined || UNPUBLISHED_PORT_KEYS[key] !== undefined) continue;
    const owner = owners.get(value);
    if (owner === undefined) {
      owners.set(value, key);
      continue;
    }
    // Point at the key the user wrote; the other one may be a default they never saw.
    const [here, other] = !context.isSet(['ports', key]) && context.isSet(['ports', owner]) ? [owner, key] : [key, owner];
    const otherNote = context.isSet(['ports', other]) ? '' : ' (its default)';
    problems.push({
      severity: 'error',
      path: ['ports', here],
      message: `host port ${value} is also used by ports.${other}${otherNote}`,
      hint: `two services cannot publish one host port; change ports.${here} or ports.${other}`,
    });
  }
  return problems;
};

/** Only a value other than the default is a choice someone made (the starter file lists every key). */
const unpublishedPorts: ConfigRule = (config, context) =>
  (Object.entries(UNPUBLISHED_PORT_KEYS) as [PortKey, string][])
    .filter(([key]) => context.isSet(['ports', key]) && config.ports[key] !== DEFAULT_PORTS[key])
    .map(([key, reason]) => ({
      severity: 'warning' as const,
      path: ['ports', key],
      message: `ports.${key} is ignored: ${reason}`,
      hint: `remove ports.${key} from config.yml`,
    }));

const models: ConfigRule = (config) => {
  const problems: RuleProblem[] = [];
  const seen = new Map<string, number>();
  const fixed = new Set<string>(FIXED_SERVICES);
  config.llm.models.forEach((model, index) => {
    const first = seen.get(model.name);
    if (first !== undefined) {
      problems.push({
        severity: 'error',
        path: ['llm', 'models', index, 'name'],
        message: `model name "${model.name}" is already used by llm.models.${first}`,
        hint: 'each model runs as its own service, so names must be unique',
      });
    } else {
      seen.set(model.name, index);
    }
    if (fixed.has(model.name)) {
      problems.push({
        severity: 'error',
        path: ['llm', 'models', index, 'name'],
        message: `model name "${model.name}" is the name of a stack service`,
        hint: 'model services share the compose namespace with the stack; pick another name',
      });
    }
  });
  return problems;
};

const defaultModel: ConfigRule = (config, context) => {
  const name = config.llm.default_model;
  const index = config.llm.models.findIndex((m) => m.name === name);
  const model = config.llm.models[index];
  if (model?.enabled) return [];
  const runsLlm = profileRunsLlm(config, context.profile);
  const severity = runsLlm ? 'error' : 'warning';
  const why = runsLlm ? `profile ${quoteValue(context.profile)} runs the LLM gateway` : `it matters once a profile runs the LLM gateway (full)`;
  if (!model) {
    const names = [...new Set(config.llm.models.map((m) => m.name))];
    return [
      {
        severity,
        path: ['llm', 'default_model'],
        message: `${quoteValue(name)} is not a model in llm.models; ${why}`,
        hint: didYouMean(name, names) ?? (names.length > 0 ? `configured models: ${names.join(', ')}` : 'add a model to llm.models'),
      },
    ];
  }
  return [
    {
      severity,
      path: ['llm', 'default_model'],
      message: `model ${quoteValue(name)} is disabled (llm.models.${index}.enabled is false); ${why}`,
      hint: `run \`msting config set llm.models.${index}.enabled true\` or choose an enabled model`,
    },
  ];
};

const profiles: ConfigRule = (config) => {
  const problems: RuleProblem[] = [];
  const services = knownServiceNames(config);
  const builtin = new Set<string>(BUILTIN_PROFILES);
  for (const [name, profile] of Object.entries(config.profiles)) {
    if (builtin.has(name)) {
      problems.push({
        severity: 'error',
        path: ['profiles', name],
        at: 'key',
        message: `${quoteValue(name)} is a built-in profile and cannot be redefined`,
        hint: 'give the custom profile another name and set `extends` to build on it',
      });
    }
    profile.services.forEach((service, index) => {
      const model = config.llm.models.findIndex((m) => m.name === service);
      if (model >= 0) {
        if (!config.llm.models[model]!.enabled) {
          problems.push({
            severity: 'error',
            path: ['profiles', name, 'services', index],
            message: `model ${quoteValue(service)} is disabled (llm.models.${model}.enabled is false)`,
            hint: `enable it with \`msting config set llm.models.${model}.enabled true\` or remove it from the profile`,
          });
        }
      } else if (!services.includes(service)) {
        problems.push({
          severity: 'error',
          path: ['profiles', name, 'services', index],
          message: `unknown service ${quoteValue(service)}`,
          hint: didYouMean(service, services) ?? `services: ${services.join(', ')}`,
        });
      }
    });
  }
  return problems;
};

const activeProfile: ConfigRule = (config) => {
  const names = knownProfileNames(config);
  if (names.includes(config.profile)) return [];
  return [
    {
      severity: 'error',
      path: ['profile'],
      message: `unknown profile ${quoteValue(config.profile)}`,
      hint: didYouMean(config.profile, names) ?? `profiles: ${names.join(', ')}`,
    },
  ];
};

const vault: ConfigRule = (config) => {
  const { shares, threshold, mode } = config.vault;
  const problems: RuleProblem[] = [];
  if (threshold > shares) {
    problems.push({
      severity: 'error',
      path: ['vault', 'threshold'],
      message: `threshold ${threshold} is more than the ${shares} share${shares === 1 ? '' : 's'} created, so Vault could never be unsealed`,
      hint: 'set vault.threshold to at most vault.shares',
    });
  } else if (mode === 'server' && threshold === 1) {
    problems.push({
      severity: 'warning',
      path: ['vault', 'threshold'],
      message: shares === 1 ? 'one unseal share and threshold 1: a single key opens Vault' : 'threshold 1: any one of the shares opens Vault',
      hint: 'fine for a laptop; on a server use several shares held by different people, such as shares 5 and threshold 3',
    });
  }
  if (mode === 'dev') {
    problems.push({
      severity: 'warning',
      path: ['vault', 'mode'],
      message: 'dev mode keeps secrets in memory: they vanish when Vault restarts',
      hint: 'use vault.mode server for anything but a throw-away trial',
    });
  }
  return problems;
};

const serviceKeys: ConfigRule = (config) => {
  const services = knownServiceNames(config);
  const problems: RuleProblem[] = [];
  const check = (section: string[], keys: string[]): void => {
    for (const key of keys) {
      if (services.includes(key)) continue;
      problems.push({
        severity: 'error',
        path: [...section, key],
        at: 'key',
        message: `${quoteValue(key)} names no service`,
        hint: didYouMean(key, services) ?? `services: ${services.join(', ')}`,
      });
    }
  };
  check(['images', 'overrides'], Object.keys(config.images.overrides));
  check(['images', 'digests'], Object.keys(config.images.digests));
  check(['resources'], Object.keys(config.resources));
  return problems;
};

const auth: ConfigRule = (config) => {
  const { methods } = config.auth;
  const problems: RuleProblem[] = [];
  if (!methods.code && !methods.webauthn && !methods.password) {
    problems.push({
      severity: 'error',
      path: ['auth', 'methods'],
      message: 'no sign-in method is enabled, so nobody could sign in',
      hint: 'enable auth.methods.code (email code), webauthn or password',
    });
  }
  if (methods.password && !methods.totp && !methods.webauthn) {
    problems.push({
      severity: 'error',
      path: ['auth', 'methods', 'password'],
      message: 'password sign-in requires a second factor, but totp and webauthn are both off',
      hint: 'enable auth.methods.totp or auth.methods.webauthn, or turn password off',
    });
  }
  if (durationMs(config.auth.session_idle_timeout) > durationMs(config.auth.session_lifetime)) {
    problems.push({
      severity: 'warning',
      path: ['auth', 'session_idle_timeout'],
      message: `idle timeout ${config.auth.session_idle_timeout} is longer than the session lifetime ${config.auth.session_lifetime}, so it never applies`,
    });
  }
  return problems;
};

const app: ConfigRule = (config) =>
  config.app.debug && config.app.env === 'production'
    ? [
        {
          severity: 'warning',
          path: ['app', 'debug'],
          message: 'debug mode is on with env production: tracebacks and the debugger reach clients',
          hint: 'set app.debug false, or app.env development on a machine of your own',
        },
      ]
    : [];

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds of a duration such as `1h30m` (the schema guarantees the form). */
export function durationMs(text: string): number {
  let total = 0;
  for (const match of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) total += Number(match[1]) * UNIT_MS[match[2]!]!;
  return total;
}

/** Every built-in rule, in the order their problems are reported when positions tie. */
export const CONFIG_RULES: readonly ConfigRule[] = [activeProfile, uniquePorts, unpublishedPorts, models, defaultModel, profiles, vault, serviceKeys, auth, app];
