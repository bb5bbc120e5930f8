import type { MstingConfig } from '../config/schema.js';
import { formatGoDuration, parseDuration } from '../stack/units.js';
import { GRAFANA_DASHBOARDS, MSTING_LOGS_MOUNT } from '../stack/plan.js';
import { fillTemplate } from './templates/fill.js';
import { toYaml } from './yaml.js';

/** Loki, Promtail (and the log forwarder, a second Promtail) and Grafana provisioning. */

/** Chroma's uvicorn log configuration (templates/chroma/log_config.yml): stdout only, no file. */
export function renderChromaLogConfig(): string {
  return toYaml(fillTemplate('chroma/log_config.yml', {}));
}

/** loki.yml: templates/loki/loki.yml with the retention from config.yml. */
export function renderLokiConfig(config: MstingConfig): string {
  return toYaml(fillTemplate('loki/loki.yml', { retention: formatGoDuration(parseDuration(config.observability.loki.retention)) }));
}

/**
 * Promtail `replace` stages that mask personal data before a line is stored. Each expression
 * has one capture group: what it captures is replaced. RE2 syntax.
 */
export const PII_RULES: { name: string; expression: string; replace: string }[] = [
  { name: 'email', expression: '([A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)*\\.[A-Za-z]{2,})', replace: '[email]' },
  { name: 'bearer token', expression: '(?i)bearer\\s+([A-Za-z0-9._~+/=-]{8,})', replace: '[token]' },
  {
    name: 'key or secret',
    expression: '(?i)(?:api[_-]?key|access[_-]?token|secret|password|passwd|token)["\']?\\s*[:=]\\s*["\']?([^\\s"\'&,;]{4,})',
    replace: '[secret]',
  },
  { name: 'card number', expression: '\\b((?:\\d[ -]?){12,18}\\d)\\b', replace: '[card]' },
  { name: 'phone number', expression: '((?:\\+\\d{1,3}[ .-]?)?\\(?\\d{3}\\)?[ .-]\\d{3}[ .-]\\d{4})\\b', replace: '[phone]' },
];

function piiStages(config: MstingConfig): Record<string, unknown>[] {
  if (!config.observability.promtail.pii_sanitization) return [];
  return PII_RULES.map((rule) => ({ replace: { expression: rule.expression, replace: rule.replace } }));
}

/**
 * Promtail (templates/promtail/promtail.yml): Docker's json-file logs of the host, every line of
 * another compose project dropped by a LogQL selector quoted here.
 */
export function renderPromtailConfig(config: MstingConfig): string {
  return toYaml(fillTemplate('promtail/promtail.yml', { other_projects: `{project!=${JSON.stringify(config.project.name)}}`, pii_stages: piiStages(config) }));
}

/**
 * The log forwarder (templates/log-forwarder/promtail.yml): the services' application log files
 * and msting's own operation log (logs/msting.log, see install/run-log.ts).
 */
export function renderLogForwarderConfig(config: MstingConfig): string {
  return toYaml(fillTemplate('log-forwarder/promtail.yml', { project: config.project.name, msting_logs: MSTING_LOGS_MOUNT, pii_stages: piiStages(config) }));
}

// The data source templates/grafana/provisioning/datasources/loki.yml declares.
const LOKI = { type: 'loki', uid: 'loki' };

export function renderGrafanaDatasources(): string {
  return toYaml(fillTemplate('grafana/provisioning/datasources/loki.yml', {}));
}

/** Where Grafana finds the dashboards msting renders (the provisioning folder is mounted read-only). */
export const DASHBOARDS_DIR = '/etc/grafana/provisioning/dashboards/sting-ce';

export function renderGrafanaDashboardProvider(): string {
  return toYaml(fillTemplate('grafana/provisioning/dashboards/msting.yml', { dashboards_dir: DASHBOARDS_DIR }));
}

type Panel = { type: 'timeseries' | 'logs' | 'stat'; title: string; expr: string; w: number; h: number; legend?: string; description: string };

/** LogQL matchers for this install, quoted as LogQL strings. */
function selector(labels: Record<string, string>): string {
  return `{${Object.entries(labels)
    .map(([k, v]) => `${k}${v.startsWith('~') ? '=~' : '='}${JSON.stringify(v.replace(/^~/, ''))}`)
    .join(', ')}}`;
}

/** Lines that report an error, in the wording STING-CE's Python services, nginx, Kratos and Vault use. */
// A LogQL raw string (backquotes): its backslashes reach the regular expression as they are.
const ERROR_FILTER = '|~ `(?i)(\\berror\\b|exception|traceback|fatal|critical|level=error|\\[error\\])`';
/** Kratos's messages for a successful and a refused sign-in (selfservice/flow/login). */
const SIGN_IN_OK = '|= "Identity authenticated successfully"';
const SIGN_IN_FAILED = '|~ "(?i)(self-service login error|credentials are invalid|the provided credentials are invalid)"';

function dashboard(uid: string, title: string, description: string, panels: Panel[], withServiceVariable: boolean, project: string): Record<string, unknown> {
  let x = 0;
  let y = 0;
  let rowH = 0;
  const laidOut = panels.map((p, i) => {
    if (x + p.w > 24) {
      x = 0;
      y += rowH;
      rowH = 0;
    }
    const gridPos = { x, y, w: p.w, h: p.h };
    x += p.w;
    rowH = Math.max(rowH, p.h);
    const target: Record<string, unknown> = { refId: 'A', datasource: LOKI, expr: p.expr, queryType: 'range' };
    if (p.legend) target.legendFormat = p.legend;
    const panel: Record<string, unknown> = { id: i + 1, type: p.type, title: p.title, description: p.description, datasource: LOKI, gridPos, targets: [target] };
    if (p.type === 'logs') panel.options = { showTime: true, wrapLogMessage: true, sortOrder: 'Descending', enableLogDetails: true };
    if (p.type === 'timeseries') panel.fieldConfig = { defaults: { custom: { drawStyle: 'bars', fillOpacity: 60, stacking: { mode: 'normal' } } }, overrides: [] };
    if (p.type === 'stat') panel.options = { reduceOptions: { calcs: ['sum'], fields: '', values: false }, colorMode: 'value', graphMode: 'none' };
    return panel;
  });
  return {
    uid,
    title,
    description,
    tags: ['sting-ce', 'msting'],
    editable: false,
    timezone: 'browser',
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: {
      list: withServiceVariable
        ? [
            {
              name: 'service',
              label: 'Service',
              type: 'query',
              datasource: LOKI,
              query: `label_values(${selector({ job: 'containers', project })}, service)`,
              definition: `label_values(${selector({ job: 'containers', project })}, service)`,
              refresh: 2,
              includeAll: true,
              multi: true,
              allValue: '.+',
              current: { selected: true, text: ['All'], value: ['$__all'] },
            },
          ]
        : [],
    },
    panels: laidOut,
  };
}

/**
 * The dashboards Grafana provisions, by uid (the file names compose/grafana.yml lists): logs per service,
 * error rates, sign-in events from Kratos, and msting's own operations. All query Loki only.
 */
export function renderGrafanaDashboards(config: MstingConfig): Map<(typeof GRAFANA_DASHBOARDS)[number], string> {
  const project = config.project.name;
  const containers = selector({ job: 'containers', project, service: '~$service' });
  const kratos = selector({ job: 'containers', project, service: 'kratos' });
  const msting = selector({ job: 'msting', project });
  const boards: Record<(typeof GRAFANA_DASHBOARDS)[number], Record<string, unknown>> = {
    'sting-logs': dashboard('sting-logs', 'STING-CE: logs per service', 'Log lines of every STING-CE container, per service.', [
      { type: 'timeseries', title: 'Log lines per service', expr: `sum by (service) (count_over_time(${containers} [$__interval]))`, legend: '{{service}}', w: 24, h: 8, description: 'How many lines each service logged.' },
      { type: 'logs', title: 'Logs', expr: containers, w: 24, h: 16, description: 'The lines themselves; choose services above.' },
    ], true, project),
    'sting-errors': dashboard('sting-errors', 'STING-CE: error rates', 'Lines reporting an error, per service.', [
      { type: 'timeseries', title: 'Errors per minute, per service', expr: `sum by (service) (rate(${containers} ${ERROR_FILTER} [5m])) * 60`, legend: '{{service}}', w: 16, h: 8, description: 'Lines that read as errors (error, exception, traceback, fatal, critical), per minute.' },
      { type: 'stat', title: 'Errors in range', expr: `sum(count_over_time(${containers} ${ERROR_FILTER} [$__range]))`, w: 8, h: 8, description: 'All error lines in the chosen time range.' },
      { type: 'timeseries', title: 'Share of lines that are errors', expr: `sum by (service) (rate(${containers} ${ERROR_FILTER} [5m])) / sum by (service) (rate(${containers} [5m]))`, legend: '{{service}}', w: 24, h: 8, description: 'Error lines as a fraction of all lines.' },
      { type: 'logs', title: 'Error lines', expr: `${containers} ${ERROR_FILTER}`, w: 24, h: 12, description: 'The error lines themselves.' },
    ], true, project),
    'sting-auth': dashboard('sting-auth', 'STING-CE: sign-in events', 'Sign-ins Kratos accepted and refused.', [
      { type: 'timeseries', title: 'Sign-ins', expr: `sum(count_over_time(${kratos} ${SIGN_IN_OK} [$__interval]))`, legend: 'signed in', w: 12, h: 8, description: 'Sessions Kratos issued after a successful sign-in.' },
      { type: 'timeseries', title: 'Refused sign-ins', expr: `sum(count_over_time(${kratos} ${SIGN_IN_FAILED} [$__interval]))`, legend: 'refused', w: 12, h: 8, description: 'Sign-in attempts Kratos refused (wrong code, password or second factor).' },
      { type: 'logs', title: 'Sign-in events', expr: `${kratos} |~ "(?i)(identity authenticated|login)"`, w: 24, h: 14, description: "Kratos's lines about sign-in flows." },
    ], false, project),
    'msting-operations': dashboard('msting-operations', 'msting: operations', "msting's own operation log (install, update, uninstall, ...): logs/msting.log.", [
      { type: 'timeseries', title: 'Events per command', expr: `sum by (command) (count_over_time(${msting} [$__interval]))`, legend: '{{command}}', w: 16, h: 8, description: 'Events msting logged, per command.' },
      { type: 'stat', title: 'Failures in range', expr: `sum(count_over_time(${msting} |~ "(?i)(fail|error)" [$__range]))`, w: 8, h: 8, description: 'Events that report a failure.' },
      { type: 'logs', title: 'Operation log', expr: msting, w: 24, h: 16, description: 'Every event, newest first.' },
    ], false, project),
  };
  return new Map(GRAFANA_DASHBOARDS.map((uid) => [uid, `${JSON.stringify(boards[uid], null, 2)}\n`]));
}
