/**
 * Parser of the contract page (docs/sting-ce.md): `## <service>` sections, each with a
 * `Source:` line and one table `kind | name | expect | STING-CE source | msting value from`.
 * A `##` section with neither a `Source:` line nor a contract table is prose and is skipped.
 * Every problem is reported with its line, never thrown, so one test can list them all.
 */

export const KINDS = ['env', 'mount', 'host', 'listen', 'cookie', 'database', 'vault', 'not-rendered'] as const;
export type Kind = (typeof KINDS)[number];

export const HEADER = ['kind', 'name', 'expect', 'STING-CE source', 'msting value from'];
const HEADER_TEXT = HEADER.join(' | ');

export const VAULT_CAPABILITIES = ['read', 'list', 'create', 'update', 'patch', 'delete'] as const;

export type Expectation =
  | { kind: 'env'; value: { type: 'set' } | { type: 'secret' } | { type: 'literal'; literal: string } }
  | { kind: 'mount'; mode: 'ro' | 'rw' | 'tmpfs' }
  | { kind: 'host'; host: string; port: number }
  | { kind: 'listen'; port: number }
  | { kind: 'cookie' }
  | { kind: 'database'; database: string; role: string }
  | { kind: 'vault'; capabilities: string[] }
  | { kind: 'not-rendered'; reason: string };

export interface ContractRow {
  kind: Kind;
  /** The name column without backticks. */
  name: string;
  /** The expect column as written. */
  expectText: string;
  expect: Expectation;
  /** The STING-CE source column. */
  source: string;
  /** The msting value-from column. */
  from: string;
  /** 1-based line in the page. */
  line: number;
}

export interface ContractSection {
  service: string;
  line: number;
  /** Folders (or files) of the STING-CE tree, relative to `STING/`; `none` when the line says so. */
  sources: string[] | 'none' | undefined;
  sourceLine: number | undefined;
  rows: ContractRow[];
}

export interface ContractProblem {
  line: number;
  message: string;
}

export interface ParsedContract {
  sections: ContractSection[];
  problems: ContractProblem[];
}

/** Split a table line into cells at unescaped `|`, outside backtick spans. */
export function tableCells(line: string): string[] {
  const body = line.trim().replace(/^\|/, '').replace(/\|$/, '');
  const cells: string[] = [];
  let cell = '';
  let inCode = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\\' && body[i + 1] === '|') {
      cell += '|';
      i++;
    } else if (c === '`') {
      inCode = !inCode;
      cell += c;
    } else if (c === '|' && !inCode) {
      cells.push(cell.trim());
      cell = '';
    } else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

/** `value` without one pair of surrounding backticks; undefined when it is not one code span. */
function codeSpan(value: string): string | undefined {
  const m = /^`([^`]*)`$/.exec(value) ?? /^``\s?(.*?)\s?``$/.exec(value);
  return m ? m[1] : undefined;
}

function unquote(value: string): string {
  return codeSpan(value) ?? value;
}

type Parsed<T> = { ok: T } | { error: string };

function parsePort(text: string): number | undefined {
  if (!/^\d{1,5}$/.test(text)) return undefined;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : undefined;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The expectation of a row, or why the row is malformed. */
export function parseExpectation(kind: Kind, name: string, expect: string): Parsed<Expectation> {
  const word = expect.toLowerCase();
  switch (kind) {
    case 'env': {
      if (!ENV_NAME.test(name)) return { error: `env name ${JSON.stringify(name)} is not a variable name` };
      if (word === 'set' || word === 'secret') return { ok: { kind, value: { type: word } } };
      const literal = codeSpan(expect);
      if (literal !== undefined) return { ok: { kind, value: { type: 'literal', literal } } };
      return { error: `env expect must be set, secret or a value in backticks, not ${JSON.stringify(expect)}` };
    }
    case 'not-rendered':
      if (!ENV_NAME.test(name)) return { error: `not-rendered name ${JSON.stringify(name)} is not a variable name` };
      if (expect === '') return { error: 'not-rendered needs the reason in the expect column' };
      return { ok: { kind, reason: expect } };
    case 'mount':
      if (!name.startsWith('/')) return { error: `mount name must be an absolute container path, not ${JSON.stringify(name)}` };
      if (word === 'ro' || word === 'rw' || word === 'tmpfs') return { ok: { kind, mode: word } };
      return { error: `mount expect must be ro, rw or tmpfs, not ${JSON.stringify(expect)}` };
    case 'host': {
      const m = /^([A-Za-z0-9][A-Za-z0-9._-]*):(\d+)$/.exec(name);
      const port = m ? parsePort(m[2]!) : undefined;
      if (!m || port === undefined) return { error: `host name must be host:port, not ${JSON.stringify(name)}` };
      if (word !== 'reachable') return { error: `host expect must be reachable, not ${JSON.stringify(expect)}` };
      return { ok: { kind, host: m[1]!, port } };
    }
    case 'listen': {
      const port = parsePort(name);
      if (port === undefined) return { error: `listen name must be a port number, not ${JSON.stringify(name)}` };
      return { ok: { kind, port } };
    }
    case 'cookie':
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) return { error: `cookie name ${JSON.stringify(name)} is not a cookie name` };
      return { ok: { kind } };
    case 'database': {
      const m = /^([A-Za-z_][A-Za-z0-9_]*) as ([A-Za-z_][A-Za-z0-9_]*)$/.exec(name);
      if (!m) return { error: `database name must be "dbname as role", not ${JSON.stringify(name)}` };
      return { ok: { kind, database: m[1]!, role: m[2]! } };
    }
    case 'vault': {
      if (!/^[A-Za-z0-9_.+*/-]+$/.test(name) || name.startsWith('/')) return { error: `vault name must be a KV path, not ${JSON.stringify(name)}` };
      const words = expect === '' ? ['read'] : expect.split(/[\s,]+/).map((w) => unquote(w).toLowerCase()).filter((w) => w !== '' && w !== 'and');
      const unknown = words.filter((w) => !(VAULT_CAPABILITIES as readonly string[]).includes(w));
      if (unknown.length > 0) return { error: `vault expect must list capabilities (${VAULT_CAPABILITIES.join(', ')}), not ${JSON.stringify(expect)}` };
      return { ok: { kind, capabilities: words } };
    }
  }
}

/**
 * An empty cell, or one holding only a dash: a placeholder that says nothing. A row that has no
 * STING-CE source says what it is instead (`none: msting hardening (read-only root)`); a
 * `not-rendered` row says what applies instead (`not rendered: the image's default`).
 */
function saysNothing(cell: string): boolean {
  return /^[-\u2013\u2014]*$/.test(cell.trim());
}

const SOURCE_LINE = /^Source:\s*(.*)$/;
const NONE = /^none\b/i;

function parseSources(text: string): Parsed<string[] | 'none' | undefined> {
  if (NONE.test(text)) return { ok: 'none' };
  if (/^\(to be written\)$/i.test(text)) return { ok: undefined };
  // A note in parentheses may follow (or sit between) the folders; it names none.
  const folders = text.replace(/\([^)]*\)/g, ' ');
  const spans = [...folders.matchAll(/`([^`]+)`/g)].map((m) => m[1]!.trim());
  const rest = folders.replace(/`[^`]*`/g, '').replace(/[,;\s]|\band\b/g, '');
  if (spans.length === 0) return { error: `Source line names no folders: write the STING-CE folders in backticks, or "none (why)"` };
  if (rest !== '') return { error: `Source line must list backticked folders separated by commas, not ${JSON.stringify(text)}` };
  const bad = spans.filter((s) => s.startsWith('/') || s.split('/').includes('..'));
  if (bad.length > 0) return { error: `Source paths are relative to the tree's STING/ folder: ${bad.join(', ')}` };
  return { ok: spans.map((s) => s.replace(/\/$/, '')) };
}

export function parseContract(markdown: string): ParsedContract {
  const lines = markdown.split(/\r?\n/);
  const sections: ContractSection[] = [];
  const problems: ContractProblem[] = [];
  const problem = (line: number, message: string) => problems.push({ line, message });

  let current: (ContractSection & { hasTable: boolean }) | undefined;
  let table: 'none' | 'header' | 'rows' | 'other' = 'none';
  let inFence = false;

  const close = () => {
    if (current && (current.sourceLine !== undefined || current.hasTable)) {
      const { hasTable: _hasTable, ...section } = current;
      sections.push(section);
    }
  };

  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line.startsWith('```')) inFence = !inFence;
    if (inFence) return;
    const heading = /^##\s+(.+?)\s*$/.exec(raw);
    if (heading && !raw.startsWith('###')) {
      close();
      current = { service: unquote(heading[1]!), line: lineNo, sources: undefined, sourceLine: undefined, rows: [], hasTable: false };
      table = 'none';
      return;
    }
    if (!line.startsWith('|')) {
      table = 'none';
      const source = SOURCE_LINE.exec(line);
      if (source && current) {
        if (current.sourceLine !== undefined) problem(lineNo, `section ${current.service} has a second Source line (the first is line ${current.sourceLine})`);
        current.sourceLine = lineNo;
        const parsed = parseSources(source[1]!.trim());
        if ('error' in parsed) problem(lineNo, parsed.error);
        else current.sources = parsed.ok;
      }
      return;
    }
    if (!current) return;
    const cells = tableCells(line);
    if (table === 'none') {
      const isContract = cells.length === HEADER.length && cells.every((c, i) => c.toLowerCase() === HEADER[i]!.toLowerCase());
      if (isContract) {
        current.hasTable = true;
        table = 'header';
      } else {
        table = 'other';
        if (current.sourceLine !== undefined || current.hasTable) problem(lineNo, `a table in section ${current.service} whose header is not "${HEADER_TEXT}"`);
      }
      return;
    }
    if (table === 'other') return;
    if (table === 'header') {
      table = 'rows';
      if (cells.every((c) => /^:?-{3,}:?$/.test(c))) return;
      problem(lineNo, 'the contract table needs a separator line (| --- | ... |) under its header');
    }
    if (cells.length !== HEADER.length) {
      problem(lineNo, `row has ${cells.length} cells; a contract row has ${HEADER.length}: ${HEADER_TEXT}`);
      return;
    }
    const [kindText, nameText, expectText, source, from] = cells as [string, string, string, string, string];
    const kind = unquote(kindText) as Kind;
    if (!(KINDS as readonly string[]).includes(kind)) {
      problem(lineNo, `unknown kind ${JSON.stringify(kindText)} (kinds: ${KINDS.join(', ')})`);
      return;
    }
    const name = unquote(nameText);
    if (name === '') {
      problem(lineNo, 'row has an empty name');
      return;
    }
    const expect = parseExpectation(kind, name, expectText);
    if ('error' in expect) {
      problem(lineNo, expect.error);
      return;
    }
    if (saysNothing(source)) problem(lineNo, `row ${kind} ${name} names no STING-CE source`);
    if (saysNothing(from)) problem(lineNo, `row ${kind} ${name} does not say where msting's value comes from`);
    current.rows.push({ kind, name, expectText, expect: expect.ok, source, from, line: lineNo });
  });
  close();

  const seen = new Map<string, number>();
  for (const s of sections) {
    const first = seen.get(s.service);
    if (first !== undefined) problem(s.line, `section ${s.service} appears twice (first at line ${first})`);
    else seen.set(s.service, s.line);
  }
  return { sections, problems: problems.sort((a, b) => a.line - b.line) };
}
