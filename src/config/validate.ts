import { isInFile, parseConfigText, locate, type ParsedConfigText } from './document.js';
import { applyEnvOverrides, overrideFor, type AppliedOverride } from './env-overrides.js';
import { issueProblems } from './issues.js';
import { normalizeConfig } from './normalize.js';
import { formatPath, sortProblems, type ConfigProblem, type KeyPath, type RuleProblem } from './problems.js';
import { hasUnprintable, quoteValue } from './quote.js';
import { CONFIG_RULES, type ConfigRule } from './rules.js';
import { configSchema, VAULT_REF, type MstingConfig } from './schema.js';

export interface ValidateOptions {
  /** Environment for MSTING_* overrides; omit (or pass {}) to check the file alone. */
  env?: NodeJS.ProcessEnv;
  /** The profile that will run (--profile); rules default to the config's own `profile`. */
  profile?: string | undefined;
  /** More cross-field rules, such as hardware checks; their problems get positions too. */
  extraRules?: readonly ConfigRule[];
  /**
   * The text is an edit not yet written (`config set`): problems are placed in `written`, the
   * file as it is on disk, and problems at `edited` name `source` instead of a position, since
   * that value came from the command line.
   */
  edit?: { written: ParsedConfigText; edited: KeyPath; source: string };
}

export interface ValidationResult {
  /** The normalized config, or null when there are errors. */
  config: MstingConfig | null;
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
  parsed: ParsedConfigText;
  overrides: AppliedOverride[];
}

/**
 * Validates config.yml text in stages: YAML (syntax, duplicate keys) → MSTING_* overrides →
 * schema → normalize → cross-field rules. Pure: reads no files. When the schema rejects some
 * values, the rules still run on the rest (the rejected values replaced by their defaults), so
 * one report lists every problem.
 */
export function validateConfigText(text: string, options: ValidateOptions = {}): ValidationResult {
  const parsed = parseConfigText(text);
  const warnings: ConfigProblem[] = [...parsed.warnings];
  if (parsed.errors.length > 0) {
    return { config: null, errors: sortProblems(parsed.errors), warnings, parsed, overrides: [] };
  }
  const { value: input, applied } = applyEnvOverrides(parsed.value, options.env ?? {});
  const place = (problem: RuleProblem): ConfigProblem => toConfigProblem(problem, parsed, applied, options.edit);

  const first = configSchema.safeParse(input);
  const unprintable = controlCharacters(input);
  let schemaProblems: RuleProblem[] = [...unprintable, ...malformedVaultRefs(input)];
  let data: MstingConfig | undefined;
  let remap: (path: KeyPath) => KeyPath = (path) => path;
  if (first.success) {
    data = first.data;
  } else {
    const issues = first.error.issues.flatMap((issue) => issueProblems(issue, input, configSchema));
    // A value with a control character is reported once, for that.
    schemaProblems = [...schemaProblems, ...issues.filter((i) => !unprintable.some((u) => isPrefix(u.path, i.path)))];
    // Drop the rejected values and parse again, so the rules can still check everything else:
    // first only the rejected keys, then, if a list item is still broken, the whole item.
    for (const wholeItems of [false, true]) {
      const pruned = prune(input, schemaProblems.map((p) => p.path), wholeItems);
      const second = pruned ? configSchema.safeParse(pruned.value) : undefined;
      if (pruned && second?.success) {
        data = second.data;
        remap = pruned.remap;
        break;
      }
    }
  }

  let ruleProblems: RuleProblem[] = [];
  let config: MstingConfig | null = null;
  if (data) {
    config = normalizeConfig(data);
    const context = {
      profile: options.profile ?? config.profile,
      isSet: (path: readonly (string | number)[]) => isInFile(parsed.doc, remap(path)) || overrideFor(applied, path) !== undefined,
    };
    const rules = [...CONFIG_RULES, ...(options.extraRules ?? [])];
    ruleProblems = rules.flatMap((rule) => rule(config!, context)).map((p) => ({ ...p, path: remap(p.path) }));
    // A rule looking at a value the schema already rejected would only repeat it.
    ruleProblems = ruleProblems.filter((r) => !schemaProblems.some((s) => isPrefix(s.path, r.path) || isPrefix(r.path, s.path)));
  }

  const all = dedupe([...schemaProblems, ...ruleProblems].map(place));
  const errors = all.filter((p) => p.severity === 'error');
  warnings.push(...all.filter((p) => p.severity === 'warning'));
  return {
    config: errors.length === 0 ? config : null,
    errors: sortProblems(errors),
    warnings: sortProblems(warnings),
    parsed,
    overrides: applied,
  };
}

function toConfigProblem(problem: RuleProblem, parsed: ParsedConfigText, applied: readonly AppliedOverride[], edit: ValidateOptions['edit']): ConfigProblem {
  const override = overrideFor(applied, problem.path);
  if (edit && isPrefix(edit.edited, problem.path)) {
    return { severity: problem.severity, path: formatPath(problem.path), line: null, column: null, message: problem.message, hint: problem.hint ?? null, source: edit.source };
  }
  // Elsewhere, a position in the file on disk: the edited text was never written.
  const position = override ? null : edit ? (isInFile(edit.written.doc, problem.path) ? locate(edit.written, problem.path, problem.at ?? 'value') : null) : locate(parsed, problem.path, problem.at ?? 'value');
  return {
    severity: problem.severity,
    path: formatPath(problem.path),
    line: position?.line ?? null,
    column: position?.column ?? null,
    message: problem.message,
    hint: problem.hint ?? null,
    source: override?.variable ?? 'file',
  };
}

function isPrefix(prefix: KeyPath, path: KeyPath): boolean {
  return prefix.length <= path.length && prefix.every((segment, i) => String(segment) === String(path[i]));
}

/**
 * Control characters in values and keys, written as escapes in a double-quoted string (raw ones
 * are refused when the file is read). No field takes one: in an env file or a URI a newline
 * starts a new entry.
 */
function controlCharacters(input: unknown, path: (string | number)[] = []): RuleProblem[] {
  if (typeof input === 'string') {
    return hasUnprintable(input) ? [{ severity: 'error', path, message: `expected one line of printable text, got ${quoteValue(input)}`, hint: 'remove the control characters (\\n, \\t, \\e and the like)' }] : [];
  }
  if (Array.isArray(input)) return input.flatMap((item, i) => controlCharacters(item, [...path, i]));
  if (input !== null && typeof input === 'object') {
    return Object.entries(input).flatMap(([k, v]) =>
      hasUnprintable(k)
        ? [{ severity: 'error' as const, path: [...path, k], at: 'key' as const, message: `expected a key of printable text, got ${quoteValue(k)}` }]
        : controlCharacters(v, [...path, k]),
    );
  }
  return [];
}

/** A string that starts like a vault-ref but is not one is a typo, whatever field it is in. */
function malformedVaultRefs(input: unknown, path: (string | number)[] = []): RuleProblem[] {
  if (typeof input === 'string') {
    return input.startsWith('vault-ref:') && !VAULT_REF.test(input)
      ? [{ severity: 'error', path, message: `malformed vault-ref ${quoteValue(input)}`, hint: 'write it as vault-ref:PATH#KEY, for example vault-ref:mail/smtp#host' }]
      : [];
  }
  if (Array.isArray(input)) return input.flatMap((item, i) => malformedVaultRefs(item, [...path, i]));
  if (input !== null && typeof input === 'object') return Object.entries(input).flatMap(([k, v]) => malformedVaultRefs(v, [...path, k]));
  return [];
}

/**
 * A copy of the data without the rejected values: a rejected map entry is deleted (its default
 * applies), a rejected list item dropped; with `wholeItems`, a list item with a problem anywhere
 * inside is dropped whole. `remap` turns a path in the
 * pruned data back into the path in the file (list indexes shift when items are dropped).
 */
function prune(input: unknown, paths: KeyPath[], wholeItems: boolean): { value: unknown; remap: (path: KeyPath) => KeyPath } | undefined {
  const value = structuredClone(input);
  if (value === null || typeof value !== 'object') return undefined;
  const drops = new Map<string, { list: unknown[]; indexes: Set<number> }>();
  for (const path of paths) {
    if (path.length === 0) return undefined;
    // Find the innermost list on the path; drop its item, else delete the map key.
    let node: unknown = value;
    let listAt = -1;
    const nodes: unknown[] = [];
    for (let i = 0; i < path.length; i++) {
      nodes.push(node);
      // Without wholeItems, only a list that directly holds the rejected value loses an item.
      if (Array.isArray(node) && (wholeItems || i === path.length - 1)) listAt = i;
      if (i === path.length - 1 || node === null || typeof node !== 'object') break;
      node = (node as Record<string, unknown>)[String(path[i])];
    }
    if (listAt >= 0) {
      const list = nodes[listAt] as unknown[];
      const key = formatPath(path.slice(0, listAt));
      const entry = drops.get(key) ?? { list, indexes: new Set<number>() };
      entry.indexes.add(Number(path[listAt]));
      drops.set(key, entry);
    } else {
      const parent = nodes[path.length - 1];
      if (parent !== null && typeof parent === 'object') delete (parent as Record<string, unknown>)[String(path.at(-1))];
    }
  }
  const kept = new Map<string, number[]>();
  // Deepest lists first, so the outer indexes used as keys still match the file.
  for (const [key, { list, indexes }] of [...drops.entries()].sort((a, b) => b[0].length - a[0].length)) {
    kept.set(key, list.map((_, i) => i).filter((i) => !indexes.has(i)));
    for (const index of [...indexes].sort((a, b) => b - a)) list.splice(index, 1);
  }
  const remap = (path: KeyPath): KeyPath => {
    const out: (string | number)[] = [];
    for (const segment of path) {
      const map = kept.get(formatPath(out));
      out.push(map && /^\d+$/.test(String(segment)) ? (map[Number(segment)] ?? segment) : segment);
    }
    return out;
  };
  return { value, remap };
}

function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.severity}|${p.path}|${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
