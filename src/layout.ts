import { join } from 'node:path';

/** The install directory, as DESIGN.md lays it out. One place names every path. */
export interface InstallLayout {
  home: string;
  confDir: string;
  configFile: string;
  composeDir: string;
  /** The rendered compose file; msting owns it and rewrites it on every render. */
  composeFile: string;
  /** The user's override file: kept and applied, never written by msting. */
  composeOverrideFile: string;
  /** Config files mounted read-only into services (vault.hcl, kratos.yml, nginx.conf, ...). */
  serviceConfigDir: string;
  envDir: string;
  secretsDir: string;
  certsDir: string;
  logsDir: string;
  backupsDir: string;
  stateFile: string;
}

export function installLayout(home: string): InstallLayout {
  const composeDir = join(home, 'compose');
  return {
    home,
    confDir: join(home, 'conf'),
    configFile: join(home, 'conf', 'config.yml'),
    composeDir,
    composeFile: join(composeDir, 'docker-compose.yml'),
    composeOverrideFile: join(composeDir, 'docker-compose.override.yml'),
    serviceConfigDir: join(composeDir, 'config'),
    envDir: join(home, 'env'),
    secretsDir: join(home, 'secrets'),
    certsDir: join(home, 'certs'),
    logsDir: join(home, 'logs'),
    backupsDir: join(home, 'backups'),
    stateFile: join(home, 'state.json'),
  };
}

/** Directory modes: secrets never readable by others. */
export const DIR_MODES = {
  home: 0o755,
  secrets: 0o700,
  env: 0o700,
  default: 0o755,
} as const;

/** Where models go: STING_MODELS_DIR, else ~/Downloads/llm_models on macOS and /opt/models on Linux. */
export function modelsDir(env: NodeJS.ProcessEnv, platform: NodeJS.Platform, userHome: string): string {
  if (env.STING_MODELS_DIR) return env.STING_MODELS_DIR;
  if (platform === 'darwin') return join(userHome, 'Downloads', 'llm_models');
  return '/opt/models';
}
