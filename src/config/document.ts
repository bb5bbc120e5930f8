import { isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node, type Pair } from 'yaml';
import { formatPath, type ConfigProblem, type KeyPath } from './problems.js';
import { printable } from './quote.js';

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
  const at = (offset: number | undefined): Position | null => (offset === undefined ? null : positionIn(source, lineCounter, offset));
  const toProblem = (severity: 'error' | 'warning') => (e: { message: string; pos: [number, number]; code: string }): ConfigProblem => {
    const position = at(unclosedFlowStart(doc, source, e) ?? e.pos[0]);
    return {
      severity,
      path: '',
      line: position?.line ?? null,
      column: position?.column ?? null,
      message: yamlMessage(e.message, e.code),
      hint: YAML_HINTS[e.code] ?? null,
      source: 'file',
    };
  };
  const errors = [...unprintableCharacters(source, doc, lineCounter), ...doc.errors.map(toProblem('error'))];
  const warnings = doc.warnings.map(toProblem('warning'));
  let value: unknown = {};
  if (errors.length === 0) {
    try {
      value = dropNulls(doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT })) ?? {};
    } catch (err) {
      // Alias bombs and bad merges surface here rather than as parse errors, with no position:
      // find the node whose conversion fails.
      const culprit = failingNode(doc, doc.contents, []);
      const position = at(culprit?.node.range?.[0]);
      const bomb = err instanceof ReferenceError && /alias/i.test(err.message);
      errors.push({
        severity: 'error',
        path: culprit ? formatPath(culprit.path) : '',
        line: position?.line ?? null,
        column: position?.column ?? null,
        message: bomb ? 'these aliases expand to too large a value (an alias bomb)' : printable(lowerFirst((err as Error).message)),
        hint: bomb ? `use each anchor a few times at most; the whole file may hold ${MAX_ALIAS_COUNT} alias expansions` : null,
        source: 'file',
      });
    }
  }
  return { doc, lineCounter, value, errors, warnings };
}

/**
 * A `[` or `{` never closed is reported by the parser where it gave up, often the line after the
 * last one: the bracket itself is where to look.
 */
function unclosedFlowStart(doc: Document.Parsed, source: string, e: { pos: [number, number]; code: string }): number | undefined {
  if (e.code !== 'BAD_INDENT') return undefined;
  let start: number | undefined;
  visit(doc, {
    Collection(_, node) {
      const range = node.range;
      if (!node.flow || !range || range[1] !== e.pos[0]) return;
      const closer = isSeq(node) ? ']' : '}';
      if (!source.slice(range[0], range[1]).trimEnd().endsWith(closer)) start = range[0];
    },
  });
  return start;
}

/** How many alias expansions the file may use, so a few bytes cannot expand to gigabytes. */
const MAX_ALIAS_COUNT = 100;

const YAML_HINTS: Record<string, string> = {
  DUPLICATE_KEY: 'each key may appear once in a mapping; remove or merge the repeated one',
  MULTIPLE_DOCS: 'config.yml is one YAML document: remove this `---` line, and move what follows into the first document or another file',
};

/** The first line of a yaml error, without the position it repeats (we print our own). */
function yamlMessage(message: string, code: string): string {
  const first = (message.split('\n')[0] ?? message).replace(/ at line \d+, column \d+:?$/, '').trim();
  if (code === 'DUPLICATE_KEY') return 'duplicate key: map keys must be unique';
  // The parser's own words address programmers ("please use YAML.parseAllDocuments()").
  if (code === 'MULTIPLE_DOCS') return 'a second YAML document starts here';
  return lowerFirst(first);
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

/**
 * Line and column of an offset. An error at the very end of the file (an unclosed `[`) is put
 * on the last character written, not on the empty line after the final newline, which an
 * editor would not show.
 */
function positionIn(source: string, lineCounter: LineCounter, offset: number): Position {
  const end = source.trimEnd().length;
  const clamped = end === 0 ? 0 : Math.min(offset, end - 1);
  const pos = lineCounter.linePos(clamped);
  return { line: pos.line, column: pos.col };
}

// What YAML 1.2 calls non-printable: C0 controls but tab, line feed and carriage return; DEL; C1
// controls but NEL; and the two non-characters. The parser passes them through in plain
// scalars, and from there they would reach env files raw.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const NON_PRINTABLE = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u0084\u0086-\u009f\ufffe\uffff]/g;

/** Most raw control characters reported from one file; the first few are enough to find them. */
const MAX_UNPRINTABLE_REPORTED = 10;

function unprintableCharacters(source: string, doc: Document.Parsed, lineCounter: LineCounter): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const match of source.matchAll(NON_PRINTABLE)) {
    if (problems.length === MAX_UNPRINTABLE_REPORTED) break;
    const pos = lineCounter.linePos(match.index);
    problems.push({
      severity: 'error',
      path: formatPath(pathAt(doc.contents, match.index)),
      line: pos.line,
      column: pos.col,
      message: `raw control character ${printable(match[0])} (U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}) in the file`,
      hint: 'delete it: editors show it as ^@ or ^A, or not at all',
      source: 'file',
    });
  }
  return problems;
}

/** The dotted key path at an offset of the text, for problems found outside the YAML parser. */
export function keyPathAt(text: string, offset: number): string {
  return formatPath(pathAt(parseDocument(text, YAML_OPTIONS).contents, offset));
}

/** The key path of the innermost key or value that covers `offset`. */
function pathAt(node: unknown, offset: number, path: (string | number)[] = []): (string | number)[] {
  const covers = (n: unknown): boolean => {
    const range = (n as Node | null)?.range;
    return range !== undefined && range !== null && offset >= range[0] && offset < range[2];
  };
  if (isMap(node)) {
    for (const pair of node.items as Pair<Node, Node>[]) {
      if (covers(pair.key)) return [...path, keyText(pair.key)];
      if (covers(pair.value)) return pathAt(pair.value, offset, [...path, keyText(pair.key)]);
    }
  } else if (isSeq(node)) {
    const index = node.items.findIndex(covers);
    if (index >= 0) return pathAt(node.items[index], offset, [...path, index]);
  }
  return path;
}

/**
 * The innermost node whose conversion to plain data fails on its own (an alias whose expansion
 * is too large, or the collection where many small ones add up), with its key path.
 */
function failingNode(doc: Document.Parsed, node: unknown, path: (string | number)[]): { node: Node; path: (string | number)[] } | undefined {
  if (!isCollection(node) && !isAlias(node)) return undefined;
  try {
    node.toJS(doc, { maxAliasCount: MAX_ALIAS_COUNT });
    return undefined;
  } catch {
    // This one fails: is there a smaller one inside that fails by itself?
  }
  if (isCollection(node)) {
    for (const [index, item] of node.items.entries()) {
      const inner = isPair(item) ? failingNode(doc, item.value, [...path, keyText(item.key)]) : failingNode(doc, item, [...path, index]);
      if (inner) return inner;
    }
  }
  return { node, path };
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
