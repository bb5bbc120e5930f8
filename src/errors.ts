/**
 * The one table of exit codes. README's table is generated from the same words; keep them in step.
 */
export const ExitCode = {
  ok: 0,
  failure: 1,
  usage: 2,
  invalidConfig: 3,
  preflight: 4,
  external: 5,
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const EXIT_CODE_TABLE: ReadonlyArray<{ code: number; meaning: string }> = [
  { code: ExitCode.ok, meaning: 'success' },
  { code: ExitCode.failure, meaning: 'failure (for `status`: not every service is healthy)' },
  { code: ExitCode.usage, meaning: 'usage error: unknown command or option, missing or bad argument' },
  { code: ExitCode.invalidConfig, meaning: 'config.yml is invalid (nothing was written)' },
  { code: ExitCode.preflight, meaning: 'a precondition is not met (Docker, Compose v2, ports, disk, permissions)' },
  { code: ExitCode.external, meaning: 'an external command or service failed (Docker, Vault, the model hub)' },
  { code: ExitCode.interrupted, meaning: 'interrupted (Ctrl-C); the next run picks up where this one stopped' },
];

/** Stable, machine-readable error codes used under `--json`. */
export type ErrorCode =
  | 'USAGE'
  | 'CONFIG_INVALID'
  | 'CONFIG_EXISTS'
  | 'CONFIG_KEY'
  | 'PREFLIGHT'
  | 'DOCKER_UNAVAILABLE'
  | 'DOCKER_PERMISSION'
  | 'COMPOSE_MISSING'
  | 'PORT_CONFLICT'
  | 'EXTERNAL'
  | 'VAULT'
  | 'HUB'
  | 'HUB_AUTH'
  | 'HUB_GATED'
  | 'HUB_NOT_FOUND'
  | 'HUB_RATE_LIMITED'
  | 'HUB_TLS'
  | 'INTEGRITY'
  | 'IO'
  | 'INTERRUPTED'
  | 'NOT_AVAILABLE'
  | 'BACKUP_INVALID'
  | 'BUNDLE_INVALID'
  | 'BUNDLE_MISMATCH'
  | 'GATEWAY_CONFIG'
  | 'FAILURE';

export interface MstingErrorOptions {
  hint?: string;
  exitCode?: ExitCode;
  /** Extra lines printed after the message (for example a multi-problem report). */
  details?: string[];
  cause?: unknown;
}

/**
 * The only error type that reaches the user as-is. Everything else is wrapped by the boundary
 * in src/cli.ts as an internal failure. Messages must never contain secret values.
 */
export class MstingError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly exitCode: ExitCode;
  readonly details: string[];

  constructor(code: ErrorCode, message: string, options: MstingErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MstingError';
    this.code = code;
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? defaultExitCode(code);
    this.details = options.details ?? [];
  }
}

function defaultExitCode(code: ErrorCode): ExitCode {
  switch (code) {
    case 'USAGE':
    case 'CONFIG_KEY':
      return ExitCode.usage;
    case 'CONFIG_INVALID':
      return ExitCode.invalidConfig;
    case 'PREFLIGHT':
    case 'DOCKER_UNAVAILABLE':
    case 'DOCKER_PERMISSION':
    case 'COMPOSE_MISSING':
    case 'PORT_CONFLICT':
    case 'BUNDLE_MISMATCH':
      return ExitCode.preflight;
    case 'EXTERNAL':
    case 'VAULT':
    case 'HUB':
    case 'HUB_AUTH':
    case 'HUB_GATED':
    case 'HUB_NOT_FOUND':
    case 'HUB_RATE_LIMITED':
    case 'HUB_TLS':
    case 'INTEGRITY':
    case 'GATEWAY_CONFIG':
      return ExitCode.external;
    case 'INTERRUPTED':
      return ExitCode.interrupted;
    default:
      return ExitCode.failure;
  }
}

export function usageError(message: string, hint?: string): MstingError {
  return new MstingError('USAGE', message, hint === undefined ? {} : { hint });
}

export function isMstingError(err: unknown): err is MstingError {
  return err instanceof MstingError;
}
