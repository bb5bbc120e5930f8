import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { createOutput, type Output, type Streams } from './ui/output.js';

/** Options every command accepts; defined once in src/cli.ts. */
export interface GlobalOptions {
  home?: string | undefined;
  config?: string | undefined;
  json: boolean;
  yes: boolean;
  verbose: boolean;
  color: boolean;
}

/** What a command gets besides its own options: resolved paths, output, environment. */
export interface Context {
  home: string;
  configPath: string;
  /** True when --config named the file (so a missing file is an error, not "use defaults"). */
  configExplicit: boolean;
  out: Output;
  yes: boolean;
  verbose: boolean;
  env: NodeJS.ProcessEnv;
  /** Standard input is a terminal: prompts are allowed. */
  stdinIsTTY: boolean;
  /** Aborted on Ctrl-C: long work stops cleanly and leaves nothing half-written. */
  signal: AbortSignal;
}

export interface HomeInputs {
  flag?: string | undefined;
  env: NodeJS.ProcessEnv;
  platform: NodeJS.Platform;
  uid: number | undefined;
  userHome: string;
}

/** `--home` wins, then MSTING_HOME, then /opt/sting-ce for root on Linux, else ~/.sting-ce. */
export function resolveHome(inputs: HomeInputs): string {
  if (inputs.flag) return resolve(inputs.flag);
  if (inputs.env.MSTING_HOME) return resolve(inputs.env.MSTING_HOME);
  if (inputs.platform === 'linux' && inputs.uid === 0) return '/opt/sting-ce';
  return join(inputs.userHome, '.sting-ce');
}

export function createContext(
  options: GlobalOptions,
  streams: Streams = process,
  env: NodeJS.ProcessEnv = process.env,
  signal: AbortSignal = new AbortController().signal,
): Context {
  const home = resolveHome({
    flag: options.home,
    env,
    platform: process.platform,
    uid: process.getuid?.(),
    userHome: homedir(),
  });
  const configPath = options.config ? resolve(options.config) : join(home, 'conf', 'config.yml');
  return {
    home,
    configPath,
    configExplicit: Boolean(options.config),
    out: createOutput({ json: options.json, color: options.color, verbose: options.verbose }, streams, env),
    yes: options.yes,
    verbose: options.verbose,
    env,
    stdinIsTTY: Boolean(process.stdin.isTTY),
    signal,
  };
}
