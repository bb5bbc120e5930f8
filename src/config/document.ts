import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair } from 'yaml';
import type { ConfigProblem, KeyPath } from './problems.js';

/** A parsed config.yml: the YAML document (comments and positions kept) and its plain value. */
export interface ParsedConfigText {
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** The document as plain data, with `key:` left empty (null) treated as not written. */
  value: unknown;
  /** YAML syntax errors (with line and column); when any exist, `value` is not to be trusted. */
  errors: ConfigProblem[];
  warnings: ConfigProblem[];
}

export interface Position {
  line: number;
  column: number;
}

/** YAML options shared by every read of config.yml (duplicate keys are errors, `<<` merges work). */
export const YAML_OPTIONS = { uniqueKeys: true, merge: true, prettyErrors: true, strict: true } as const;

export function parseConfigText(text: string): ParsedConfigText {
  const lineCounter = new LineCounter();
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const doc = parseDocument(source, { ...YAML_OPTIONS, lineCounter, keepSourceTokens: false });
  const toProblem = (severity: 'error' | 'warning') => (e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] | undefined; code: string }): ConfigProblem => ({
    severity,
    path: '',
    line: e.linePos?.[0]?.line ?? null,
    column: e.linePos?.[0]?.col ?? null,
    message: yamlMessage(e.message, e.code),
    hint: e.code === 'DUPLICATE_KEY' ? 'each key may appear once in a mapping; remove or merge the repeated one' : null,
    source: 'file',
  });
  const errors = doc.errors.map(toProblem('error'));
  const warnings = doc.warnings.map(toProblem('warning'));
  let value: unknown = {};
  if (errors.length === 0) {
    try {
      value = dropNulls(doc.toJS({ maxAliasCount: 100 })) ?? {};
    } catch (err) {
      // Alias bombs and bad merges surface here rather than as parse errors.
      errors.push({ severity: 'error', path: '', line: null, column: null, message: String((err as Error).message), hint: null, source: 'file' });
    }
  }
  return { doc, lineCounter, value, errors, warnings };
}

/** The first line of a yaml error, without the position it repeats (we print our own). */
function yamlMessage(message: string, code: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
  if (code === 'DUPLICATE_KEY') return 'duplicate key: map keys must be unique';
  return first.charAt(0).toLowerCase() + first.slice(1);
}

/** `key:` with nothing after it means "not set": the default applies. */
function dropNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNulls);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== null && v !== undefined) out[k] = dropNulls(v);
    }
    return out;
  }
  return value;
}

function keyText(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  return String(key);
}

/** The map entry at `segment`, or undefined. */
export function findPair(node: unknown, segment: string | number): Pair<Node, Node> | undefined {
  if (!isMap(node)) return undefined;
  return (node.items as Pair<Node, Node>[]).find((pair) => keyText(pair.key) === String(segment));
}

interface Located {
  /** How many path segments were found in the file. */
  depth: number;
  node: Node | null;
  keyNode: Node | null;
}

function walk(doc: Document, path: KeyPath): Located {
  let node: unknown = doc.contents;
  let keyNode: Node | null = null;
  let depth = 0;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = findPair(node, segment);
      if (!pair) break;
      keyNode = (pair.key as Node) ?? null;
      node = pair.value;
      depth += 1;
      if (node === null || node === undefined) {
        // `key:` with no value: point at the key.
        return { depth, node: keyNode, keyNode };
      }
    } else if (isSeq(node)) {
      const index = Number(segment);
      const item = Number.isInteger(index) ? node.items[index] : undefined;
      if (item === undefined || item === null) break;
      keyNode = null;
      node = item;
      depth += 1;
    } else {
      break;
    }
  }
  return { depth, node: (node as Node | null) ?? null, keyNode };
}

/**
 * Where a key path sits in the file: its value (or its key when `at` is 'key'). A path that is
 * not in the file (a missing required key) points at the nearest ancestor that is.
 */
export function locate(parsed: Pick<ParsedConfigText, 'doc' | 'lineCounter'>, path: KeyPath, at: 'key' | 'value' = 'value'): Position | null {
  const found = walk(parsed.doc, path);
  const target = found.depth === path.length && at === 'key' && found.keyNode ? found.keyNode : found.node;
  const offset = target?.range?.[0];
  if (offset === undefined) return null;
  const pos = parsed.lineCounter.linePos(offset);
  return { line: pos.line, column: pos.col };
}

/** Whether the path is written in the file (not just a default). */
export function isInFile(doc: Document, path: KeyPath): boolean {
  return walk(doc, path).depth === path.length;
}
