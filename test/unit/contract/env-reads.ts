/**
 * Finds the environment variables a source file reads without a default.
 *
 * Python: `os.environ['X']`, `os.getenv('X')`, `os.environ.get('X')` with one argument or a `None`
 * default, and the bare `getenv(...)` / `environ[...]` / `environ.get(...)` when the file imports
 * them from `os`. A read followed by `or <something>` has a default too, and a subscript read in
 * a file that first checks `'X' in os.environ` is guarded. Writes
 * (`os.environ['X'] = ...`), deletions and names that are not string literals are not reads we can
 * name, so they are left out.
 *
 * JavaScript/TypeScript: `process.env.X` and `process.env['X']` not followed by `||` or `??`.
 * `REACT_APP_*`, `NODE_ENV` and `PUBLIC_URL` are inlined by the React build when the image is
 * built, so a running container never reads them; they are left out.
 */

export interface EnvRead {
  name: string;
  /** 1-based line of the read. */
  line: number;
}

const BUILD_TIME_JS = /^(REACT_APP_\w+|NODE_ENV|PUBLIC_URL)$/;

/** Blank out comments (keeping offsets and newlines) so commented-out reads are not reported. */
export function blankPythonComments(text: string): string {
  // Strings are matched first, so a `#` inside one is not a comment.
  const token = /'''[\s\S]*?'''|"""[\s\S]*?"""|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|#[^\n]*/g;
  return text.replace(token, (t) => (t.startsWith('#') ? ' '.repeat(t.length) : t));
}

function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The arguments of a call whose `(` is at `open`, split at top-level commas; undefined when unbalanced. */
function callArguments(text: string, open: number): { args: string[]; end: number } | undefined {
  const args: string[] = [];
  let depth = 0;
  let start = open + 1;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c) j += text[j] === '\\' ? 2 : 1;
      if (j >= text.length) return undefined;
      i = j;
    } else if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) {
        args.push(text.slice(start, i).trim());
        if (args.at(-1) === '') args.pop();
        return { args, end: i + 1 };
      }
    } else if (c === ',' && depth === 1) {
      args.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  return undefined;
}

const STRING_LITERAL = /^[rbu]?(['"])([A-Za-z_][A-Za-z0-9_]*)\1$/;

function literalName(arg: string | undefined): string | undefined {
  return arg === undefined ? undefined : STRING_LITERAL.exec(arg.trim())?.[2];
}

/** True when the text right after a read gives it a default (`or x`), or assigns to it. */
function followedByDefault(rest: string): boolean {
  return /^\s*or\b/.test(rest);
}

export function pythonEnvReads(source: string): EnvRead[] {
  const text = blankPythonComments(source);
  const bareGetenv = /^\s*from\s+os\s+import\s+[^\n]*\bgetenv\b/m.test(text);
  const bareEnviron = /^\s*from\s+os\s+import\s+[^\n]*\benviron\b/m.test(text);
  const reads: EnvRead[] = [];
  const call = /(\bos\s*\.\s*|(?<![.\w]))(getenv|environ\s*\.\s*get)\s*\(/g;
  for (let m = call.exec(text); m; m = call.exec(text)) {
    const qualified = m[1]!.trim() !== '';
    const isGetenv = m[2] === 'getenv';
    if (!qualified && !(isGetenv ? bareGetenv : bareEnviron)) continue;
    const parsed = callArguments(text, m.index + m[0].length - 1);
    if (!parsed) continue;
    const name = literalName(parsed.args[0]);
    if (!name) continue;
    const fallback = parsed.args[1];
    if (parsed.args.length > 2) continue;
    if (fallback !== undefined && fallback.replace(/^default\s*=\s*/, '') !== 'None') continue;
    if (followedByDefault(text.slice(parsed.end))) continue;
    reads.push({ name, line: lineAt(source, m.index) });
  }
  const subscript = /(\bos\s*\.\s*|(?<![.\w]))environ\s*\[\s*([rbu]?(['"])([A-Za-z_][A-Za-z0-9_]*)\3)\s*\]/g;
  for (let m = subscript.exec(text); m; m = subscript.exec(text)) {
    const qualified = m[1]!.trim() !== '';
    if (!qualified && !bareEnviron) continue;
    const rest = text.slice(m.index + m[0].length);
    if (/^\s*(=(?!=)|\+=)/.test(rest)) continue;
    const before = text.slice(Math.max(0, m.index - 8), m.index);
    if (/\bdel\s+$/.test(before)) continue;
    if (new RegExp(`['"]${m[4]!}['"]\\s+in\\s+(os\\s*\\.\\s*)?environ\\b`).test(text)) continue;
    reads.push({ name: m[4]!, line: lineAt(source, m.index) });
  }
  return reads.sort((a, b) => a.line - b.line || a.name.localeCompare(b.name));
}

export function scriptEnvReads(source: string): EnvRead[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, (c) => c.replace(/[^\n]/g, ' ')).replace(/(^|[^:'"\\])\/\/[^\n]*/g, (c, p: string) => p + ' '.repeat(c.length - p.length));
  const reads: EnvRead[] = [];
  const access = /\bprocess\.env(?:\.([A-Za-z_]\w*)|\[\s*(['"`])([A-Za-z_]\w*)\2\s*\])/g;
  for (let m = access.exec(text); m; m = access.exec(text)) {
    const name = m[1] ?? m[3]!;
    if (BUILD_TIME_JS.test(name)) continue;
    const rest = text.slice(m.index + m[0].length);
    if (/^\s*(\|\||\?\?|=(?!=))/.test(rest)) continue;
    reads.push({ name, line: lineAt(source, m.index) });
  }
  return reads;
}

/** The reads of one file, by its extension; other files read nothing we scan. */
export function envReads(path: string, source: string): EnvRead[] {
  if (path.endsWith('.py')) return pythonEnvReads(source);
  if (/\.(m|c)?[jt]sx?$/.test(path)) return scriptEnvReads(source);
  return [];
}
