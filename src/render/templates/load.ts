import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseDocument, visit } from 'yaml';
import { z } from 'zod';
import { BRACED_NAME, DASHBOARD_TEMPLATES, NGINX_TEMPLATES, TEMPLATE_PLACEHOLDERS, type TemplateFile } from './names.js';
import { DashboardTemplateError, checkDashboard } from './grafana.js';
import { NginxTemplateError, nginxNodes } from './nginx.js';

/**
 * Reads and checks the service config templates (templates/<service>/...). Used when msting is
 * built (scripts/build.mjs bundles the result as data) and by the tests; a running msting never
 * parses them.
 */

/** A template that does not parse or uses a placeholder msting does not fill; the message names the file and key path. */
export class TemplateError extends Error {
  constructor(
    readonly file: string,
    readonly keyPath: string,
    detail: string,
  ) {
    super(`${file}: ${keyPath === '' ? '' : `${keyPath}: `}${detail}`);
    this.name = 'TemplateError';
  }
}

/** Stands for a key left empty (`key:`) until checkValues reports it; an explicit `null` stays null. */
const EMPTY = '\u0000empty';

/** A template is a YAML mapping (its values are checked by checkValues). */
const templateSchema = z.record(z.string(), z.unknown());

/**
 * Every value plain data (strings, numbers, booleans, an explicit `null`, lists, mappings), every
 * placeholder one msting fills. A name in two braces each side (`{{service}}`) is text; in any
 * other number of braces, a mistake.
 */
function checkValues(file: string, node: unknown, allowed: readonly string[], path: string[]): void {
  if (node === undefined || node === EMPTY) throw new TemplateError(file, path.join('.'), 'empty: give a value, or leave the key out');
  if (node === null) return;
  if (typeof node === 'string') {
    for (const [text, open, name, close] of node.matchAll(BRACED_NAME)) {
      if (open!.length === 2 && close!.length === 2) continue;
      if (open!.length !== 1 || close!.length !== 1) {
        throw new TemplateError(file, path.join('.'), `${text}: write {${name}} for a placeholder, or {{${name}}} for text such as a Grafana legend`);
      }
      if (!allowed.includes(name!)) {
        throw new TemplateError(file, path.join('.'), `unknown placeholder {${name}}: use one of ${allowed.map((n) => `{${n}}`).join(', ') || 'none here'}`);
      }
    }
  } else if (Array.isArray(node)) node.forEach((item, i) => checkValues(file, item, allowed, [...path, String(i)]));
  else if (typeof node === 'object') for (const [key, item] of Object.entries(node)) checkValues(file, item, allowed, [...path, key]);
  else if (typeof node !== 'number' && typeof node !== 'boolean') throw new TemplateError(file, path.join('.'), `not plain data (${typeof node})`);
}

/** One template's text, checked. `file` names it in errors. */
export function parseTemplate(file: string, text: string, allowed: readonly string[]): Record<string, unknown> {
  const doc = parseDocument(text);
  const yamlError = doc.errors[0];
  if (yamlError) {
    const at = yamlError.linePos?.[0];
    const message = yamlError.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new TemplateError(file, '', `${at ? `line ${at.line}, column ${at.col}: ` : ''}${message}`);
  }
  // A value written `null` is data (Promtail's labels stage takes it); one left out is a mistake.
  visit(doc, {
    Scalar(_, node) {
      if (node.value === null && (node.source ?? '') === '') node.value = EMPTY;
    },
  });
  const result = templateSchema.safeParse(doc.toJS());
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new TemplateError(file, issue.path.map(String).join('.'), `${issue.message} (a template is a YAML mapping)`);
  }
  checkValues(file, result.data, allowed, []);
  return result.data;
}

/**
 * An nginx template's text, checked and turned into the nodes the nginx writer takes. Besides
 * `nginx`, keys named `x-...` hold lists of nodes for YAML aliases (settings two servers share),
 * as compose files' `x-` keys do; they are checked, then dropped.
 */
export function parseNginxTemplate(file: string, text: string, allowed: readonly string[]): Record<string, unknown> {
  const { nginx, ...rest } = parseTemplate(file, text, allowed);
  const other = Object.keys(rest).find((key) => !key.startsWith('x-'));
  if (other !== undefined) throw new TemplateError(file, other, 'unknown key: an nginx template has the key nginx, and x-... keys for shared lists');
  try {
    for (const [key, nodes] of Object.entries(rest)) nginxNodes(nodes, [key]);
    return { nginx: nginxNodes(nginx, ['nginx']) };
  } catch (error) {
    if (error instanceof NginxTemplateError) throw new TemplateError(file, error.path.join('.'), error.message);
    throw error;
  }
}

/**
 * A Grafana dashboard template, checked as a template and as a dashboard: its uid is its file's
 * name, its panels query the provisioned Loki and lie on Grafana's grid without overlapping.
 */
export function parseDashboardTemplate(file: string, text: string, allowed: readonly string[]): Record<string, unknown> {
  const dashboard = parseTemplate(file, text, allowed);
  try {
    checkDashboard(dashboard, basename(file, '.yml'));
  } catch (error) {
    if (error instanceof DashboardTemplateError) throw new TemplateError(file, error.path.join('.'), error.message);
    throw error;
  }
  return dashboard;
}

/** Every template msting renders, checked, by its path under the templates folder. */
export function loadTemplates(dir: string): Record<TemplateFile, Record<string, unknown>> {
  const templates = {} as Record<TemplateFile, Record<string, unknown>>;
  for (const [file, allowed] of Object.entries(TEMPLATE_PLACEHOLDERS) as [TemplateFile, readonly string[]][]) {
    const parse = NGINX_TEMPLATES.includes(file) ? parseNginxTemplate : DASHBOARD_TEMPLATES.includes(file) ? parseDashboardTemplate : parseTemplate;
    templates[file] = parse(`templates/${file}`, readFileSync(join(dir, file), 'utf8'), allowed);
  }
  return templates;
}
