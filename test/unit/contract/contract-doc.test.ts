import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseContract, tableCells } from './contract-doc.js';

const fixture = (name: string) => readFileSync(fileURLToPath(new URL(`fixtures/${name}`, import.meta.url)), 'utf8');

describe('parseContract', () => {
  it('reads sections, Source lines and rows, skipping prose sections and prose tables', () => {
    const { sections, problems } = parseContract(fixture('contract.md'));
    expect(problems).toEqual([]);
    expect(sections.map((s) => s.service)).toEqual(['app', 'kratos', 'db', 'redis', 'chatbot', 'knowledge']);
    const app = sections[0]!;
    expect(app.sources).toEqual(['app', 'conf', 'scripts']);
    expect(sections[1]!.sources).toBe('none');
    expect(app.rows).toHaveLength(21);
    expect(app.rows[0]).toMatchObject({ kind: 'env', name: 'DATABASE_URL', expect: { kind: 'env', value: { type: 'secret' } }, source: 'app/run.py:4', line: 15 });
    expect(app.rows.find((r) => r.name === 'APP_MODE')?.expect).toEqual({ kind: 'env', value: { type: 'literal', literal: 'prod$uction' } });
    expect(app.rows.find((r) => r.kind === 'host')?.expect).toEqual({ kind: 'host', host: 'db', port: 5432 });
    expect(app.rows.find((r) => r.kind === 'database')?.expect).toEqual({ kind: 'database', database: 'sting_app', role: 'app_user' });
    expect(app.rows.find((r) => r.name === 'sting/data/files/*')?.expect).toEqual({ kind: 'vault', capabilities: ['read', 'create'] });
    expect(app.rows.find((r) => r.kind === 'not-rendered')?.expect).toEqual({ kind: 'not-rendered', reason: 'the fixture leaves it out on purpose' });
  });

  it('names the line of every unknown kind, malformed row, repeated section and foreign table', () => {
    const { problems, sections } = parseContract(fixture('malformed.md'));
    expect(problems.map((p) => `${p.line}: ${p.message}`)).toEqual([
      '15: unknown kind "envv" (kinds: env, mount, host, listen, cookie, database, vault, not-rendered)',
      '16: row has 4 cells; a contract row has 5: kind | name | expect | STING-CE source | msting value from',
      '17: env expect must be set, secret or a value in backticks, not "maybe"',
      '18: mount name must be an absolute container path, not "app/uploads"',
      '19: host name must be host:port, not "kratos"',
      '20: database name must be "dbname as role", not "sting_app"',
      '21: vault expect must list capabilities (read, list, create, update, patch, delete), not "sudo"',
      '22: not-rendered needs the reason in the expect column',
      '23: row env LOG_DIR names no STING-CE source',
      "23: row env LOG_DIR does not say where msting's value comes from",
      '25: section app appears twice (first at line 9)',
      '27: Source line names no folders: write the STING-CE folders in backticks, or "none (why)"',
      '40: a table in section knowlege whose header is not "kind | name | expect | STING-CE source | msting value from"',
    ]);
    // An unknown service parses; the render decides that msting does not know it.
    expect(sections.find((s) => s.service === 'knowlege')).toMatchObject({ sources: undefined, rows: [{ kind: 'listen', name: '8090' }] });
  });

  it('takes a dash in the source or value-from column for what it is: nothing said', () => {
    const row = (source: string, from: string) =>
      parseContract(['## app', 'Source: `app/`', '| kind | name | expect | STING-CE source | msting value from |', '| --- | --- | --- | --- | --- |', `| not-rendered | DEBUG | off | ${source} | ${from} |`].join('\n')).problems.map((p) => p.message);
    expect(row('app/x.py:1', '-')).toEqual(["row not-rendered DEBUG does not say where msting's value comes from"]);
    expect(row('\u2014', 'not rendered: the default applies')).toEqual(['row not-rendered DEBUG names no STING-CE source']);
    expect(row('none: msting hardening (read-only root)', 'not rendered: the default applies')).toEqual([]);
  });

  it('reads the folders of a Source line, past a note in parentheses', () => {
    const source = (line: string) => parseContract(`## app\n\nSource: ${line}\n`);
    expect(source('`app/`, `conf/` (the image copies both, built from `app/Dockerfile.app`)').sections[0]!.sources).toEqual(['app', 'conf']);
    expect(source('`llm_service/server.py` and `llm_service/utils/`').sections[0]!.sources).toEqual(['llm_service/server.py', 'llm_service/utils']);
    expect(source('the app folder').problems.map((p) => p.message)).toEqual(['Source line names no folders: write the STING-CE folders in backticks, or "none (why)"']);
    expect(source('`app/` and the routes').problems.map((p) => p.message)).toEqual(['Source line must list backticked folders separated by commas, not "`app/` and the routes"']);
    expect(source('`../app`').problems.map((p) => p.message)).toEqual(["Source paths are relative to the tree's STING/ folder: ../app"]);
  });

  it('splits cells at unescaped pipes outside code spans', () => {
    expect(tableCells('| env | `A|B` | `x\\|y` | f.py:1 | const |')).toEqual(['env', '`A|B`', '`x|y`', 'f.py:1', 'const']);
  });
});
