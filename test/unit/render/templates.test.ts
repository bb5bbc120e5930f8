import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { renderKratosConfig } from '../../../src/render/kratos.js';
import { PII_RULES, logqlSelector, renderGrafanaDashboards, renderLogForwarderConfig, renderPromtailConfig } from '../../../src/render/observability.js';
import { renderNginx } from '../../../src/render/nginx.js';
import { loadTemplates, parseDashboardTemplate, parseNginxTemplate, parseTemplate } from '../../../src/render/templates/load.js';
import { filledNginxNodes } from '../../../src/render/templates/nginx.js';
import { DASHBOARD_TEMPLATES, TEMPLATE_PLACEHOLDERS } from '../../../src/render/templates/names.js';
import { GRAFANA_DASHBOARDS } from '../../../src/stack/plan.js';
import { makeConfig } from './fixtures.js';

const TEMPLATES_DIR = fileURLToPath(new URL('../../../templates/', import.meta.url));
const LOKI = readFileSync(join(TEMPLATES_DIR, 'loki/loki.yml'), 'utf8');

describe('service config templates', () => {
  it('a placeholder msting does not fill is rejected with the file and key path', () => {
    const text = LOKI.replace('"{retention}"', '"{retention_days}"');
    expect(() => parseTemplate('templates/loki/loki.yml', text, TEMPLATE_PLACEHOLDERS['loki/loki.yml'])).toThrow(
      'templates/loki/loki.yml: limits_config.retention_period: unknown placeholder {retention_days}: use one of {retention}',
    );
  });

  it('an empty value is rejected with its key path', () => {
    expect(() => parseTemplate('templates/loki/loki.yml', `${LOKI}\nruler:\n  storage:\n`, TEMPLATE_PLACEHOLDERS['loki/loki.yml'])).toThrow('templates/loki/loki.yml: ruler.storage: empty: give a value, or leave the key out');
  });

  it('a value from config.yml stays one value: it cannot add a key or end a string', () => {
    const from = 'STING"\nlog: {level: trace}\nx: "';
    const rendered = parse(renderKratosConfig(makeConfig({ mail: { from_name: from } })));
    expect(rendered.courier.smtp.from_name).toBe(from);
    expect(rendered.selfservice.methods.totp.config.issuer).toBe(from);
    expect(rendered.log.level).toBe('info');
  });

  it('whole-value placeholders keep their type, and an absent one leaves its key out', () => {
    const local = parse(renderKratosConfig(makeConfig({ auth: { methods: { password: false } } })));
    expect(local.selfservice.methods.password.enabled).toBe(false);
    expect(local.serve.public.cors.allowed_origins).toEqual(expect.arrayContaining(['https://localhost:3010']));
    expect(local.cookies).not.toHaveProperty('domain');
    const named = parse(renderKratosConfig(makeConfig({ hostname: 'sting.example.com' })));
    expect(named.cookies.domain).toBe('sting.example.com');
    expect(named.session.cookie.domain).toBe('sting.example.com');
  });

  it('a list placeholder that is a whole list item adds its items there; a written null stays null', () => {
    const promtail = parse(renderPromtailConfig(makeConfig({ observability: { promtail: { pii_sanitization: true } } })));
    const stages = promtail.scrape_configs[0].pipeline_stages as Record<string, unknown>[];
    expect(stages.slice(-PII_RULES.length).map((s) => Object.keys(s))).toEqual(PII_RULES.map(() => ['replace']));
    expect(stages.find((s) => 'labels' in s)).toEqual({ labels: { project: null, service: null, stream: null } });
    expect(stages.find((s) => 'match' in s)).toMatchObject({ match: { selector: '{project!="sting-ce"}', action: 'drop' } });
    const off = parse(renderLogForwarderConfig(makeConfig({ observability: { promtail: { pii_sanitization: false } } })));
    expect(off.scrape_configs[0].pipeline_stages).toEqual([]);
    expect(off.scrape_configs[1].pipeline_stages.map((s: Record<string, unknown>) => Object.keys(s)[0])).toEqual(['json', 'labels', 'timestamp']);
    expect(off.scrape_configs[1].static_configs[0].labels).toMatchObject({ project: 'sting-ce', __path__: expect.stringMatching(/\/msting\.log$/) });
  });

  describe('nginx templates', () => {
    const file = 'templates/frontend/nginx.conf.yml';
    const allowed = TEMPLATE_PLACEHOLDERS['frontend/nginx.conf.yml'];

    it('become the nodes the nginx writer takes, placeholders left for the renderer', () => {
      const nodes = parseNginxTemplate(file, 'nginx:\n  - user: nginx\n  - error_log: [/dev/stderr, warn]\n  - events:\n      children:\n        - worker_connections: 1024\n        - "{locations}"\n', allowed);
      expect(nodes).toEqual({
        nginx: [
          { directive: 'user', args: ['nginx'] },
          { directive: 'error_log', args: ['/dev/stderr', 'warn'] },
          { block: 'events', args: [], children: [{ directive: 'worker_connections', args: [1024] }, '{locations}'] },
        ],
      });
    });

    it('a node of no known form is rejected with its key path', () => {
      expect(() => parseNginxTemplate(file, 'nginx:\n  - events:\n      children:\n        - worker_connections: [1024, [x]]\n', allowed)).toThrow(
        `${file}: nginx.0.events.children.0.worker_connections.1: an nginx argument is text or a number`,
      );
      expect(() => parseNginxTemplate(file, 'nginx:\n  - events:\n      childs: []\n', allowed)).toThrow(`${file}: nginx.0.events.childs: unknown key: a block has args and children`);
      expect(() => parseNginxTemplate(file, 'nginx:\n  - user: nginx\n    pid: /tmp/nginx.pid\n', allowed)).toThrow(`${file}: nginx.0: not an nginx node`);
      expect(() => parseNginxTemplate(file, 'nginx:\n  - server_name: "{host}"\n', allowed)).toThrow(`${file}: nginx.0.server_name: unknown placeholder {host}`);
    });

    it('hold comment lines, blank lines, map keys, words in nginx quotes and shared lists', () => {
      const text = [
        'x-shared: &shared',
        '  - proxy_http_version: "1.1"',
        'nginx:',
        '  - comment: |-',
        '      one',
        '      two',
        '  - blank',
        '  - map:',
        '      args: [\'"$a|$b"\', $c]',
        '      children:',
        '        - "": x',
        '        - \'~"model"\\s*:\': y',
        '        - \'"~*text/event-stream"\': z',
        '  - server:',
        '      children:',
        '        - *shared',
        '        - listen: 80',
      ].join('\n');
      const { nginx } = parseNginxTemplate(file, text, allowed);
      expect(renderNginx(filledNginxNodes(nginx))).toBe(
        [
          '# one',
          '# two',
          '',
          'map "$a|$b" $c {',
          '    "" x;',
          '    \'~"model"\\s*:\' y;',
          '    "~*text/event-stream" z;',
          '}',
          'server {',
          '    proxy_http_version 1.1;',
          '    listen 80;',
          '}',
          '',
        ].join('\n'),
      );
    });

    it('write a when\'s children only when its flag is true', () => {
      const { nginx } = parseNginxTemplate(file, 'nginx:\n  - when: "{locations}"\n    children:\n      - listen: 80\n  - listen: 81\n', allowed);
      const filled = (flag: unknown) => (nginx as Record<string, unknown>[]).map((n) => ('when' in n ? { ...n, when: flag } : n));
      expect(renderNginx(filledNginxNodes(filled(true)))).toBe('listen 80;\nlisten 81;\n');
      expect(renderNginx(filledNginxNodes(filled(false)))).toBe('listen 81;\n');
      expect(() => filledNginxNodes(filled('yes'))).toThrow(/true or false/);
    });

    it('refuse at build a quoted word that is not one nginx string, a when without a flag, an unknown top-level key', () => {
      expect(() => parseNginxTemplate(file, 'nginx:\n  - return: [200, \'"a" b"\']\n', allowed)).toThrow(`${file}: nginx.0.return.1: a quoted nginx word must be one whole string`);
      expect(() => parseNginxTemplate(file, 'nginx:\n  - when: yes\n    children: []\n', allowed)).toThrow(`${file}: nginx.0.when: when is a "{flag}" the renderer sets`);
      expect(() => parseNginxTemplate(file, 'nginx:\n  - proxy pass: x\n', allowed)).toThrow(`${file}: nginx.0.proxy pass: not an nginx directive name or map key`);
      expect(() => parseNginxTemplate(file, 'shared: []\nnginx: []\n', allowed)).toThrow(`${file}: shared: unknown key`);
    });
  });

  describe('Grafana dashboard templates', () => {
    type Uid = (typeof GRAFANA_DASHBOARDS)[number];
    const path = (uid: Uid) => `grafana/provisioning/dashboards/sting-ce/${uid}.yml` as const;
    const text = (uid: Uid) => readFileSync(join(TEMPLATES_DIR, path(uid)), 'utf8');
    const check = (uid: Uid, yaml: string) => parseDashboardTemplate(`templates/${path(uid)}`, yaml, TEMPLATE_PLACEHOLDERS[path(uid)]);
    const exprs = (json: string) => (JSON.parse(json) as { panels: { targets: { expr: string }[] }[] }).panels.flatMap((p) => p.targets.map((t) => t.expr));

    it('are one for each dashboard msting provisions, and each is a dashboard on the grid', () => {
      expect(DASHBOARD_TEMPLATES).toEqual(GRAFANA_DASHBOARDS.map(path));
      for (const uid of GRAFANA_DASHBOARDS) expect(() => check(uid, text(uid)), uid).not.toThrow();
    });

    it('the build rejects a dashboard with a placeholder msting does not fill, naming file and key path', () => {
      const dir = mkdtempSync(join(tmpdir(), 'msting-templates-'));
      try {
        cpSync(TEMPLATES_DIR, dir, { recursive: true });
        writeFileSync(join(dir, path('sting-auth')), text('sting-auth').replace(`expr: '{kratos} |~`, `expr: '{job="containers", project="{project}"} |~`));
        expect(() => loadTemplates(dir)).toThrow(
          `templates/${path('sting-auth')}: panels.2.targets.0.expr: unknown placeholder {project}: use one of {containers}, {all_containers}, {kratos}, {msting}`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it("Grafana's {{legend}} is text; a legend in one brace, or in uneven braces, is a mistake the build names", () => {
      const logs = text('sting-logs');
      expect(JSON.parse(renderGrafanaDashboards(makeConfig()).get('sting-logs')!).panels[0].targets[0].legendFormat).toBe('{{service}}');
      expect(() => check('sting-logs', logs.replace('legendFormat: "{{service}}"', 'legendFormat: "{service}"'))).toThrow(`panels.0.targets.0.legendFormat: unknown placeholder {service}`);
      expect(() => check('sting-logs', logs.replace('legendFormat: "{{service}}"', 'legendFormat: "{{service}"'))).toThrow(
        'panels.0.targets.0.legendFormat: {{service}: write {service} for a placeholder, or {{service}} for text such as a Grafana legend',
      );
    });

    it('panels that overlap or run past column 24 are rejected, and so is a uid that is not the file name', () => {
      const errors = text('sting-errors');
      expect(() => check('sting-errors', errors.replace('gridPos: { x: 16, y: 0, w: 8, h: 8 }', 'gridPos: { x: 16, y: 0, w: 9, h: 8 }'))).toThrow(
        "panels.1.gridPos: x + w is 25: Grafana's grid is 24 columns wide",
      );
      expect(() => check('sting-errors', errors.replace('gridPos: { x: 0, y: 8, w: 24, h: 8 }', 'gridPos: { x: 0, y: 7, w: 24, h: 8 }'))).toThrow(
        'panels.2.gridPos: overlaps panels.0 (Errors per minute, per service)',
      );
      expect(() => check('sting-errors', errors.replace('- id: 2', '- id: 1'))).toThrow('panels.1.id: 1 is also the id of panels.0');
      expect(() => check('sting-errors', errors.replace('uid: sting-errors', 'uid: errors'))).toThrow("uid: is errors: a dashboard's uid is its file's name, sting-errors");
      expect(() => check('sting-errors', errors.replace('gridPos: { x: 0, y: 16, w: 24, h: 12 }', 'gridPos: { x: 0, y: 16, width: 24, h: 12 }'))).toThrow('panels.3.gridPos');
    });

    it('a project name with quotes and braces stays one quoted LogQL string in every matcher', () => {
      const name = 'x"} |= "injected" {a="\\{msting}{{service}}$service';
      const hostile = renderGrafanaDashboards({ ...makeConfig(), project: { name } });
      const plain = renderGrafanaDashboards(makeConfig({ project: { name: 'sting-ce' } }));
      const quoted = JSON.stringify(name);
      for (const uid of GRAFANA_DASHBOARDS) {
        const json = hostile.get(uid)!;
        const queries = exprs(json);
        for (const expr of queries) {
          // Each project matcher reads back, as a Go/LogQL string literal, as the name itself ...
          const literals = [...expr.matchAll(/project="((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
          expect(literals.length, expr).toBeGreaterThan(0);
          expect(new Set(literals), expr).toEqual(new Set([name]));
        }
        // ... and with that one literal put back, every query is the one rendered for a plain name.
        expect(queries.map((e) => e.replaceAll(`project=${quoted}`, 'project="sting-ce"')), uid).toEqual(exprs(plain.get(uid)!));
      }
      expect(logqlSelector([['project', '!=', name]])).toBe(`{project!=${quoted}}`);
      const promtail = parse(renderPromtailConfig({ ...makeConfig(), project: { name } }));
      expect(promtail.scrape_configs[0].pipeline_stages).toContainEqual({ match: { selector: `{project!=${quoted}}`, action: 'drop', drop_counter_reason: 'other_project' } });
    });
  });
});
