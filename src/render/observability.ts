import type { MstingConfig } from '../config/schema.js';
import { formatGoDuration, parseDuration } from '../stack/units.js';
import { toYaml } from './yaml.js';

/** Loki, Promtail (and the log forwarder, a second Promtail) and Grafana provisioning. */

export function renderLokiConfig(config: MstingConfig): string {
  const retention = formatGoDuration(parseDuration(config.observability.loki.retention));
  return toYaml({
    auth_enabled: false,
    server: { http_listen_port: 3100, grpc_listen_port: 9096, log_level: 'warn' },
    common: {
      instance_addr: '127.0.0.1',
      path_prefix: '/loki',
      storage: { filesystem: { chunks_directory: '/loki/chunks', rules_directory: '/loki/rules' } },
      replication_factor: 1,
      ring: { kvstore: { store: 'inmemory' } },
    },
    schema_config: {
      configs: [{ from: '2024-01-01', store: 'tsdb', object_store: 'filesystem', schema: 'v13', index: { prefix: 'index_', period: '24h' } }],
    },
    limits_config: { retention_period: retention, reject_old_samples: true, reject_old_samples_max_age: '168h' },
    compactor: { working_directory: '/loki/compactor', retention_enabled: true, delete_request_store: 'filesystem', compaction_interval: '10m' },
    analytics: { reporting_enabled: false },
  });
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

export function renderPromtailConfig(config: MstingConfig): string {
  return toYaml({
    server: { http_listen_port: 9080, grpc_listen_port: 0, log_level: 'warn' },
    positions: { filename: '/var/lib/promtail/positions.yaml' },
    clients: [{ url: 'http://loki:3100/loki/api/v1/push' }],
    scrape_configs: [
      {
        job_name: 'containers',
        static_configs: [{ targets: ['localhost'], labels: { job: 'containers', project: config.project.name, __path__: '/var/lib/docker/containers/*/*-json.log' } }],
        pipeline_stages: [{ docker: {} }, ...piiStages(config)],
      },
    ],
  });
}

/** The log forwarder: ships the services' application log files (the sting_logs volume). */
export function renderLogForwarderConfig(config: MstingConfig): string {
  return toYaml({
    server: { http_listen_port: 9081, grpc_listen_port: 0, log_level: 'warn' },
    positions: { filename: '/var/lib/promtail/positions.yaml' },
    clients: [{ url: 'http://loki:3100/loki/api/v1/push' }],
    scrape_configs: [
      {
        job_name: 'application-logs',
        static_configs: [{ targets: ['localhost'], labels: { job: 'application', project: config.project.name, __path__: '/var/log/sting/**/*.log' } }],
        pipeline_stages: piiStages(config),
      },
    ],
  });
}

export function renderGrafanaDatasources(): string {
  return toYaml({
    apiVersion: 1,
    datasources: [{ name: 'Loki', uid: 'loki', type: 'loki', access: 'proxy', url: 'http://loki:3100', isDefault: true, editable: false }],
  });
}
