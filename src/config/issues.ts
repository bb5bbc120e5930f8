import type { z } from 'zod';
import { VAULT_REF } from './vault-ref.js';
import { allowedKeys, schemaAt } from './schema-walk.js';
import { quoteValue } from './quote.js';
import { didYouMean } from './suggest.js';
import type { KeyPath, RuleProblem } from './problems.js';

/**
 * Turns zod issues into problems a person can act on: what was expected, what was written,
 * and a did-you-mean for misspelt keys and enum values. One issue can become several problems
 * (one per unknown key), each at its own place in the file.
 */

type Issue = z.core.$ZodIssue;

export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (typeof value === 'string') return quoteValue(value);
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

function typeName(expected: string): string {
  switch (expected) {
    case 'object':
      return 'a mapping of keys';
    case 'array':
      return 'a list';
    case 'number':
      return 'a number';
    case 'int':
      return 'a whole number';
    case 'boolean':
      return 'true or false';
    case 'string':
      return 'a text value';
    case 'record':
      return 'a mapping of keys';
    default:
      return expected;
  }
}

export function valueAt(root: unknown, path: KeyPath): unknown {
  let node = root;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[String(segment)];
  }
  return node;
}

/** zod's own messages start with these; ours (from the schema) read as "expected <message>". */
const DEFAULT_MESSAGE = /^(Invalid|Too (big|small)|Expected|Unrecognized)/;

const FORMAT_NAMES: Record<string, string> = {
  email: 'an email address',
  url: 'a URL such as https://example.com',
  ipv4: 'an IPv4 address',
  ipv6: 'an IPv6 address',
  regex: 'a value of the right form',
};

function expectation(issue: Issue): string {
  if (!DEFAULT_MESSAGE.test(issue.message)) return issue.message;
  switch (issue.code) {
    case 'invalid_format':
      return FORMAT_NAMES[issue.format] ?? `a valid ${issue.format}`;
    case 'too_big':
      if (issue.origin === 'number') return `at most ${String(issue.maximum)}`;
      if (issue.origin === 'string') return `at most ${String(issue.maximum)} characters`;
      return `at most ${String(issue.maximum)} entries`;
    case 'too_small':
      if (issue.origin === 'number') return `at least ${String(issue.minimum)}${issue.inclusive === false ? ' (exclusive)' : ''}`.replace('at least 0 (exclusive)', 'a number above 0');
      if (issue.origin === 'string') return Number(issue.minimum) === 1 ? 'a value that is not empty' : `at least ${String(issue.minimum)} characters`;
      return `at least ${String(issue.minimum)} entries`;
    case 'invalid_type':
      return typeName(issue.expected);
    default:
      return issue.message;
  }
}

export const VAULT_REF_FIELDS_HINT =
  'a vault-ref is allowed only in mail.from_address, mail.from_name, mail.smtp.host, mail.smtp.username, images.registry and images.overrides';

/** Problems for one zod issue, paths relative to the config root. */
export function issueProblems(issue: Issue, input: unknown, schema: z.ZodType, base: KeyPath = []): RuleProblem[] {
  return problemsFor(issue, input, schema, base).map((p) => {
    const value = valueAt(input, p.path);
    return typeof value === 'string' && VAULT_REF.test(value) && !p.hint ? { ...p, hint: VAULT_REF_FIELDS_HINT } : p;
  });
}

function problemsFor(issue: Issue, input: unknown, schema: z.ZodType, base: KeyPath = []): RuleProblem[] {
  const path: KeyPath = [...base, ...(issue.path as (string | number)[])];
  const actual = valueAt(input, path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const parent = schemaAt(schema, path);
      const allowed = parent.ok ? (allowedKeys(parent.schema) ?? []) : [];
      return issue.keys.map((key) => ({
        severity: 'error' as const,
        path: [...path, key],
        at: 'key' as const,
        message: `unknown key ${quoteValue(key)}`,
        hint: didYouMean(key, allowed) ?? (allowed.length > 0 && allowed.length <= 20 ? `allowed here: ${allowed.join(', ')}` : undefined),
      }));
    }
    case 'invalid_type': {
      if (actual === undefined) {
        return [{ severity: 'error', path, message: `missing: ${typeName(issue.expected)} is required here`, at: 'key' }];
      }
      let hint: string | undefined;
      if (typeof actual === 'string' && issue.expected === 'number' && actual.trim() !== '' && !Number.isNaN(Number(actual))) {
        hint = 'write the number without quotes';
      } else if (typeof actual === 'string' && issue.expected === 'boolean' && /^(true|false)$/i.test(actual)) {
        hint = 'write true or false without quotes';
      }
      return [{ severity: 'error', path, message: `expected ${typeName(issue.expected)}, got ${describeValue(actual)}`, hint }];
    }
    case 'invalid_value': {
      const values = issue.values.map((v) => String(v));
      const shown = issue.values.map((v) => (typeof v === 'string' ? v : String(v))).join(', ');
      return [
        {
          severity: 'error',
          path,
          message: `expected one of ${shown}; got ${describeValue(actual)}`,
          hint: typeof actual === 'string' ? didYouMean(actual, values) : undefined,
        },
      ];
    }
    case 'invalid_union': {
      // A plain value or a vault-ref, or IPv4 or IPv6: name every accepted form when each
      // branch failed at the value itself; otherwise report the first branch's own problems.
      const branches = issue.errors;
      const direct = branches.every((b) => b.length === 1 && b[0]!.path.length === 0 && b[0]!.code !== 'invalid_type');
      if (typeof actual === 'string' && actual.startsWith('vault-ref:') && !VAULT_REF.test(actual)) {
        return [{ severity: 'error', path, message: `malformed vault-ref ${describeValue(actual)}`, hint: 'write it as vault-ref:PATH#KEY, for example vault-ref:mail/smtp#host' }];
      }
      if (direct) {
        const forms = [...new Set(branches.map((b) => expectation(b[0]!)))];
        return [{ severity: 'error', path, message: `expected ${forms.join(' or ')}, got ${describeValue(actual)}` }];
      }
      const first = branches[0] ?? [];
      return first.flatMap((sub) => problemsFor(sub, input, schema, path));
    }
    case 'invalid_key':
      return [
        {
          severity: 'error',
          path,
          at: 'key',
          message: `invalid name ${quoteValue(String(path.at(-1)))}: expected ${issue.issues.map(expectation).join('; ')}`,
        },
      ];
    case 'invalid_element':
      return issue.issues.flatMap((sub) => problemsFor(sub, input, schema, path));
    default:
      return [{ severity: 'error', path, message: `expected ${expectation(issue)}, got ${describeValue(actual)}` }];
  }
}
