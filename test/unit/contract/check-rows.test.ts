import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkRow, governingRule, parsePolicy, vaultApiPath, type CheckContext } from './check-rows.js';
import { parseContract, type ContractRow } from './contract-doc.js';
import { evaluateContract, evaluateSection, formatSection } from './evaluate.js';
import { FIXTURE_POLICIES, fixtureViews } from './fixtures/stack.js';
import { renderContext, renderProfiles } from './render-profiles.js';

const contract = parseContract(readFileSync(fileURLToPath(new URL('fixtures/contract.md', import.meta.url)), 'utf8'));
const views = fixtureViews();
const ctx: CheckContext = { allViews: views, vaultPolicy: (s) => FIXTURE_POLICIES[s] };
const outcomes = evaluateContract(contract, views, ctx);
const outcome = (service: string) => outcomes.find((o) => o.section.service === service)!;

describe('contract rows against a rendered stack', () => {
  it('passes every row that holds, for every kind, in every profile that renders the service', () => {
    const good = outcomes.filter((o) => o.section.service !== 'knowledge');
    expect(good.flatMap((o) => formatSection('contract.md', o))).toEqual([]);
    const kinds = new Set(good.flatMap((o) => o.rows.map((r) => r.row.kind)));
    expect([...kinds].sort()).toEqual(['cookie', 'database', 'env', 'host', 'listen', 'mount', 'not-rendered', 'vault']);
  });

  it('checks a host only in the profiles that run it', () => {
    const app = outcome('app');
    expect(app.profiles).toEqual(['default', 'full']);
    expect(app.rows.find((r) => r.row.name === 'chatbot:8888')?.checked).toEqual(['full']);
    expect(app.rows.find((r) => r.row.name === 'db:5432')?.checked).toEqual(['default', 'full']);
    expect(outcome('chatbot').profiles).toEqual(['full']);
  });

  it('catches every broken row, saying which row, which profile and what it found', () => {
    const lines = formatSection('contract.md', outcome('knowledge'));
    const at = (name: string) => lines.filter((l) => l.replace(/^\S+ \S+ /, '').startsWith(`${name} (`));
    expect(at('KRATOS_ADMIN_URL')[0]).toMatch(/^contract\.md:\d+ env KRATOS_ADMIN_URL \(set\), profiles default, full: KRATOS_ADMIN_URL is not in knowledge's environment \(it has: .*DATABASE_URL/);
    expect(at('CORS_ALLOWED_ORIGINS')[0]).toContain('CORS_ALLOWED_ORIGINS is "https://localhost" in env/knowledge.env, the contract says "https://sting.example.com"');
    expect(at('KNOWLEDGE_SYSTEM_API_KEY')[0]).toContain('the value of KNOWLEDGE_SYSTEM_API_KEY appears in the compose file');
    expect(at('/app/data')[0]).toContain('no volume, bind or tmpfs of knowledge holds /app/data; its mounts: /app/uploads (tmpfs)');
    expect(at('/app/uploads')[0]).toContain('/app/uploads is a tmpfs: writable, but lost on restart');
    expect(at('redis:6379')[0]).toContain('redis:6379 (reachable), profiles default, full: redis is redis on backend; knowledge joins sting_local');
    expect(at('vault:8200')[0]).toContain('no service of any profile answers to vault; names on knowledge\'s networks: app, db, knowledge, kratos, sting-ce-app, sting-ce-kratos');
    expect(at('db:5433')[0]).toContain('db resolves to db, but nothing rendered for it shows port 5433');
    expect(at('9999')[0]).toContain('nothing rendered for knowledge shows port 9999');
    expect(at('sting_session')[0]).toContain('kratos.yml renders session.cookie.name "ory_kratos_session", the contract says "sting_session"');
    expect(at('sting_knowledge as knowledge_user')[0]).toContain('DATABASE_URL connects to sting_app as app_user');
    expect(at('knowledge/key')[0]).toContain('msting writes no Vault policy for knowledge');
    expect(lines.find((l) => l.includes('not-rendered CORS_ALLOWED_ORIGINS'))).toContain('CORS_ALLOWED_ORIGINS is rendered (env/knowledge.env); the contract says it is left out: nothing reads it');
    // Every row of the section fails, in both profiles.
    expect(outcome('knowledge').rows.filter((r) => r.failures.length === 0 || r.checked.length !== 2).map((r) => r.row.line)).toEqual([]);
  });

  it('reports a section whose service msting does not render, and one with no rows', () => {
    const parsed = parseContract(['## knowlege', '', 'Source: `knowledge_service/`', '', '| kind | name | expect | STING-CE source | msting value from |', '| --- | --- | --- | --- | --- |', ''].join('\n'));
    expect(formatSection('doc.md', evaluateSection(parsed.sections[0]!, views, ctx))).toEqual([
      'doc.md:1 ## knowlege: msting renders no service named knowlege in any profile (it renders: app, chatbot, db, knowledge, kratos, redis)',
      'doc.md:1 ## knowlege: the section has no rows: the contract of this service is not written',
    ]);
  });
});

describe('Vault policy paths', () => {
  const rules = parsePolicy(FIXTURE_POLICIES.app!);

  it('reads a row as a KV v2 API path, inside msting\'s mount unless it names one', () => {
    expect(vaultApiPath('service/bee-api-key')).toBe('sting/data/service/bee-api-key');
    expect(vaultApiPath('sting/data/files/*')).toBe('sting/data/files/*');
    expect(vaultApiPath('sting/metadata/files/x')).toBe('sting/metadata/files/x');
  });

  it('reads a sys/ row as the system path it names, outside every KV mount', () => {
    expect(vaultApiPath('sys/mounts')).toBe('sys/mounts');
    expect(vaultApiPath('sys/policies/acl/x')).toBe('sys/policies/acl/x');
    // A KV path that merely starts with "sys" is still inside the mount.
    expect(vaultApiPath('system/key')).toBe('sting/data/system/key');
    const row = (name: string, caps: string[]): ContractRow => ({ kind: 'vault', name, expectText: caps.join(', '), expect: { kind: 'vault', capabilities: caps }, source: 'x.py:1', from: 'policy', line: 1 });
    const sysCtx: CheckContext = { ...ctx, vaultPolicy: () => 'path "sys/mounts" {\n  capabilities = ["read"]\n}' };
    expect(checkRow(row('sys/mounts', ['read']), 'app', views[0]!, sysCtx)).toEqual({ status: 'ok' });
    expect(checkRow(row('sys/mounts', ['update']), 'app', views[0]!, sysCtx)).toEqual({ status: 'fail', found: 'sys/mounts falls under "sys/mounts", which grants read, not update' });
    expect(checkRow(row('sys/auth', ['read']), 'app', views[0]!, sysCtx)).toMatchObject({ status: 'fail', found: expect.stringContaining('no path of app\'s policy matches sys/auth') });
  });

  it('applies the exact path before a glob, and the longest glob first', () => {
    expect(governingRule(rules, 'sting/data/service/bee-api-key')?.path).toBe('sting/data/service/bee-api-key');
    expect(governingRule(rules, 'sting/data/files/a/b')?.capabilities).toEqual(['create', 'read', 'update']);
    expect(governingRule(rules, 'sting/data/service/other')).toBeUndefined();
    expect(governingRule(parsePolicy('path "sting/data/+/key" {\n  capabilities = ["read"]\n}'), 'sting/data/app/key')?.path).toBe('sting/data/+/key');
  });

  it('fails a capability the governing rule does not grant', () => {
    const row: ContractRow = { kind: 'vault', name: 'app/flask', expectText: 'read, delete', expect: { kind: 'vault', capabilities: ['read', 'delete'] }, source: 'x.py:1', from: 'policy', line: 1 };
    expect(checkRow(row, 'app', views[0]!, ctx)).toEqual({ status: 'fail', found: 'sting/data/app/flask falls under "sting/data/app/*", which grants read, not delete' });
  });
});

describe('msting\'s own render, read back', () => {
  const real = renderProfiles();
  const realCtx = renderContext(real);

  it('renders the model services in the full profile', () => {
    expect(real.map((v) => v.profile)).toEqual(['default', 'observability', 'full']);
    expect(['llama3', 'phi3', 'zephyr'].filter((m) => !real[2]!.has(m))).toEqual([]);
  });

  it('checks rows against it: a reachable host, a tmpfs, a secret, the Vault policy of a service', () => {
    const section = parseContract(
      [
        '## app',
        'Source: `app/`',
        '| kind | name | expect | STING-CE source | msting value from |',
        '| --- | --- | --- | --- | --- |',
        '| host | `db:5432` | reachable | app/database.py:60 | constant |',
        '| mount | `/tmp` | tmpfs | app/run.py:1 | constant |',
        '| env | `DATABASE_URL` | secret | app/database.py:60 | Vault |',
        '| host | `nowhere:1` | reachable | app/x.py:1 | constant |',
      ].join('\n'),
    ).sections[0]!;
    const lines = formatSection('doc.md', evaluateSection(section, real, realCtx));
    // Only the unknown host fails, in every profile.
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((l) => !l.startsWith('doc.md:8 host nowhere:1 (reachable), profile'))).toEqual([]);
    expect(lines.join('\n')).toMatch(/default.*\n?.*observability.*\n?.*full/s);
  });
});
