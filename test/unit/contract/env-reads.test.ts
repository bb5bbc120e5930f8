import { describe, expect, it } from 'vitest';
import { envReads, pythonEnvReads, scriptEnvReads } from './env-reads.js';

const names = (reads: { name: string; line: number }[]) => reads.map((r) => `${r.name}:${r.line}`);

describe('pythonEnvReads', () => {
  it('finds reads without a default, with their lines', () => {
    const source = [
      'import os',
      "a = os.environ['A']",
      'b = os.getenv("B")',
      "c = os.environ.get('C')",
      "d = os.environ.get('D', None)",
      'e = os.getenv(',
      "    'E',",
      '    default=None,',
      ')',
    ].join('\n');
    expect(names(pythonEnvReads(source))).toEqual(['A:2', 'B:3', 'C:4', 'D:5', 'E:6']);
  });

  it('leaves out reads with a default, writes, deletions, guarded reads, comments and computed names', () => {
    const source = [
      'import os',
      "a = os.getenv('A', 'x')",
      "b = os.environ.get('B', '')",
      "c = os.getenv('C') or 'fallback'",
      "os.environ['D'] = 'set'",
      "del os.environ['E']",
      "if 'F' in os.environ:",
      "    f = os.environ['F']",
      "# g = os.environ['G']",
      'h = os.getenv(NAME)',
      "i = os.getenv(f'I_{x}')",
      "j = os.environ.setdefault('J', 'x')",
      "k = os.getenv('K', os.getenv('L'))",
      "s = \"os.getenv('M') # not a comment\"",
    ].join('\n');
    expect(names(pythonEnvReads(source))).toEqual(['L:13', 'M:14']);
  });

  it('counts bare getenv and environ only when imported from os', () => {
    expect(names(pythonEnvReads("from os import getenv, environ\na = getenv('A')\nb = environ['B']\nc = environ.get('C')"))).toEqual(['A:2', 'B:3', 'C:4']);
    expect(names(pythonEnvReads("a = getenv('A')\nb = environ['B']\nc = request.environ.get('C')"))).toEqual([]);
  });
});

describe('scriptEnvReads', () => {
  it('finds process.env reads without a fallback, leaving out what the React build inlines', () => {
    const source = [
      'const a = process.env.API_KEY;',
      "const b = process.env['SECRET'];",
      "const c = process.env.PORT || '3000';",
      'const d = process.env.HOST ?? "x";',
      'const e = process.env.REACT_APP_API_URL;',
      "if (process.env.NODE_ENV === 'production') {}",
      '// const f = process.env.COMMENTED;',
    ].join('\n');
    expect(names(scriptEnvReads(source))).toEqual(['API_KEY:1', 'SECRET:2']);
  });
});

describe('envReads', () => {
  it('scans Python and JavaScript files by extension, and nothing else', () => {
    const py = "import os\nx = os.environ['X']";
    expect(names(envReads('app/x.py', py))).toEqual(['X:2']);
    expect(names(envReads('app/x.js', 'process.env.X'))).toEqual(['X:1']);
    expect(envReads('app/server.py.fixed', py)).toEqual([]);
    expect(envReads('app/entrypoint.sh', 'echo $X')).toEqual([]);
  });
});
