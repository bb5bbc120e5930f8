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
  return toYaml(fillTemplate('promtail/promtail.yml', { other_projects: logqlSelector([['project', '!=', config.project.name]]), pii_stages: piiStages(config) }));
}

/**
 * The log forwarder (templates/log-forwarder/promtail.yml): the services' application log files
 * and msting's own operation log (logs/msting.log, see install/run-log.ts).
 */
export function renderLogForwarderConfig(config: MstingConfig): string {
  return toYaml(fillTemplate('log-forwarder/promtail.yml', { project: config.project.name, msting_logs: MSTING_LOGS_MOUNT, pii_stages: piiStages(config) }));
}

export function renderGrafanaDatasources(): string {
  return toYaml(fillTemplate('grafana/provisioning/datasources/loki.yml', {}));
}

/** Where Grafana finds the dashboards msting renders (the provisioning folder is mounted read-only). */
export const DASHBOARDS_DIR = '/etc/grafana/provisioning/dashboards/sting-ce';

export function renderGrafanaDashboardProvider(): string {
  return toYaml(fillTemplate('grafana/provisioning/dashboards/msting.yml', { dashboards_dir: DASHBOARDS_DIR }));
}

type LogqlMatcher = [label: string, operator: '=' | '!=' | '=~', value: string];

/**
 * A LogQL stream selector, each value quoted as a LogQL string: JSON's escapes are those of Go's
 * string literals, which LogQL reads, so a value (project.name) can neither end its string nor
 * add a matcher.
 */
export function logqlSelector(matchers: LogqlMatcher[]): string {
  return `{${matchers.map(([label, operator, value]) => `${label}${operator}${JSON.stringify(value)}`).join(', ')}}`;
}

/**
 * The dashboards Grafana provisions, by uid (the file names compose/grafana.yml lists): logs per
 * service, error rates, sign-in events from Kratos, and msting's own operations, each
 * templates/grafana/provisioning/dashboards/sting-ce/<uid>.yml with this install's LogQL
 * selectors filled in. All query Loki only.
 */
export function renderGrafanaDashboards(config: MstingConfig): Map<(typeof GRAFANA_DASHBOARDS)[number], string> {
  const project: LogqlMatcher = ['project', '=', config.project.name];
  const selectors = {
    containers: logqlSelector([['job', '=', 'containers'], project, ['service', '=~', '$service']]),
    all_containers: logqlSelector([['job', '=', 'containers'], project]),
    kratos: logqlSelector([['job', '=', 'containers'], project, ['service', '=', 'kratos']]),
    msting: logqlSelector([['job', '=', 'msting'], project]),
  };
  return new Map(GRAFANA_DASHBOARDS.map((uid) => [uid, `${JSON.stringify(fillTemplate(`grafana/provisioning/dashboards/sting-ce/${uid}.yml`, selectors), null, 2)}\n`]));
}
