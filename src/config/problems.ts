import { MstingError } from '../errors.js';
import { printable } from './quote.js';

export type Severity = 'error' | 'warning';

/** A key path into the config, as YAML sees it: map keys and sequence indexes. */
export type KeyPath = ReadonlyArray<string | number>;

/**
 * One thing wrong (or worth a warning) in config.yml. `line`/`column` are 1-based and point into
 * the file; they are null when the value did not come from the file (a default, or an
 * environment override, named by `source`).
 */
export interface ConfigProblem {
  severity: Severity;
  /** Dotted key path such as `ports.app` or `llm.models.0.name`; empty for the whole file. */
  path: string;
  line: number | null;
  column: number | null;
  message: string;
  hint: string | null;
  /** `file`, or the environment variable that supplied the value (MSTING_PROFILE, ...). */
  source: string;
}

/** What a rule reports before positions are known: the validator looks them up in the file. */
export interface RuleProblem {
  severity: Severity;
  path: KeyPath;
  message: string;
  hint?: string | undefined;
  /** Point at the key itself (unknown names) rather than its value. */
  at?: 'key' | 'value';
}

export function formatPath(path: KeyPath): string {
  return path.map(String).join('.');
}

/** Longest key path shown in a report line: a key can be as long as the file. */
const SHOWN_PATH_MAX = 120;

/**
 * One line per problem, in the form editors and terminals understand: `file:line:column: key: message`.
 * The key path holds the file's own keys, so it is escaped (a key with a newline would forge a
 * line of the report) and cut when long.
 */
export function formatProblem(problem: ConfigProblem, file: string): string {
  let where: string;
  if (problem.source !== 'file') where = problem.source;
  else if (problem.line !== null) where = `${file}:${problem.line}:${problem.column ?? 1}`;
  else where = file;
  const path = printable(problem.path);
  const key = path === '' ? '' : `${path.length > SHOWN_PATH_MAX ? `${path.slice(0, SHOWN_PATH_MAX - 3)}...` : path}: `;
  const hint = problem.hint ? ` (${problem.hint})` : '';
  return printable(`${where}: ${key}${problem.message}${hint}`);
}

/** Problems in file order: positioned ones by line and column, then the rest as found. */
export function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  return problems
    .map((p, i) => ({ p, i }))
    .sort((a, b) => {
      const la = a.p.line ?? Number.MAX_SAFE_INTEGER;
      const lb = b.p.line ?? Number.MAX_SAFE_INTEGER;
      if (la !== lb) return la - lb;
      const ca = a.p.column ?? 0;
      const cb = b.p.column ?? 0;
      return ca !== cb ? ca - cb : a.i - b.i;
    })
    .map(({ p }) => p);
}

/** The single report for an invalid config: exit 3, every problem on its own line. */
export function configInvalidError(file: string, errors: ConfigProblem[]): MstingError {
  const count = errors.length === 1 ? '1 problem' : `${errors.length} problems`;
  return new MstingError('CONFIG_INVALID', `${file} is not valid (${count}); nothing was written`, {
    details: errors.map((p) => formatProblem(p, file)),
    hint: 'fix the lines above, then run `msting config validate`',
  });
}
