import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../../src/stack/catalogue/data.js';
import { CatalogueError, loadCatalogue, parseCatalogueEntry } from '../../../src/stack/catalogue/load.js';
import { FIXED_SERVICES } from '../../../src/stack/names.js';
import { DATABASE_USERS, databasePasswordVariable } from '../../../src/stack/secrets.js';
import {
  APP_HOME,
  CHATBOT_PORT,
  EXTERNAL_AI_PORT,
  FRONTEND_ENV_JS,
  GRAFANA_PROVISIONING_FILES,
  KRATOS_CERTS_DIR,
  KRATOS_CONFIG_DIR,
  MSTING_LOGS_MOUNT,
  planStack,
} from '../../../src/stack/plan.js';
import { cpuRecommendation, makeConfig } from './fixtures.js';

const COMPOSE_DIR = fileURLToPath(new URL('../../../compose/', import.meta.url));
const APP = readFileSync(join(COMPOSE_DIR, 'app.yml'), 'utf8');

function rejection(file: string, text: string): CatalogueError {
  try {
    parseCatalogueEntry(file, text);
  } catch (error) {
    if (error instanceof CatalogueError) return error;
    throw error;
  }
  throw new Error(`${file} was accepted`);
}

describe('a malformed catalogue file is rejected with its name and the key path', () => {
  it('an unknown key at the top', () => {
    const error = rejection('compose/app.yml', APP.replace('image:', 'imag:'));
    expect(error.message).toMatch(/^compose\/app\.yml: imag: unknown key/);
  });

  it('an unknown key inside a health check', () => {
    const error = rejection('compose/app.yml', APP.replace('start_period: 120s', 'start_perod: 120s'));
    expect(error.message).toBe('compose/app.yml: health.start_perod: unknown key');
  });

  it('a value of the wrong type', () => {
    const error = rejection('compose/app.yml', APP.replace('target: 5050', 'target: "5050"'));
    expect(error.file).toBe('compose/app.yml');
    expect(error.keyPath).toBe('ports.0.target');
    expect(error.message).toMatch(/^compose\/app\.yml: ports\.0\.target: .*number/);
  });

  it('a placeholder msting does not fill', () => {
    const error = rejection('compose/redis.yml', readFileSync(join(COMPOSE_DIR, 'redis.yml'), 'utf8').replace('{redis.maxmemory}', '{redis.max_memory}'));
    expect(error.message).toMatch(/^compose\/redis\.yml: command\.\d+: unknown placeholder \{redis\.max_memory\}/);
  });

  it('a YAML syntax error, with its line', () => {
    const error = rejection('compose/app.yml', `${APP}\nports: [\n`);
    expect(error.message).toMatch(/^compose\/app\.yml: line \d+, column \d+: /);
  });

  it('an env variable from a config key that config.yml does not have', () => {
    const error = rejection('compose/app.yml', APP.replace('{ config: app.env }', '{ config: app.environment }'));
    expect(error.message).toBe('compose/app.yml: env.APP_ENV.config: unknown config key app.environment');
  });

  it('an env variable from a config key that is not a single value', () => {
    const error = rejection('compose/app.yml', APP.replace('{ config: mail.from_name }', '{ config: mail.smtp }'));
    expect(error.message).toBe('compose/app.yml: env.WEBAUTHN_RP_NAME.config: mail.smtp is not a single value of config.yml');
  });

  it('an env variable from a secret msting does not have', () => {
    const error = rejection('compose/app.yml', APP.replace('{ secret: app.flask }', '{ secret: app.flask_key }'));
    expect(error.message).toBe('compose/app.yml: env.FLASK_SECRET_KEY.secret: unknown secret app.flask_key: use an id of SECRET_SPECS in src/stack/secrets.ts');
  });

  it('an env variable from a derived value msting does not compute', () => {
    const error = rejection('compose/app.yml', APP.replace('{ derived: database_url }', '{ derived: database_uri }'));
    expect(error.keyPath).toBe('env.DATABASE_URL.derived');
    expect(error.message).toMatch(/database_url/);
  });

  it('an env variable with two sources, or a constant that YAML would read as a boolean', () => {
    expect(rejection('compose/app.yml', APP.replace('{ url: knowledge }', '{ url: knowledge, value: x }')).message).toBe(
      'compose/app.yml: env.KNOWLEDGE_SERVICE_URL: give exactly one of value, config, secret, url, derived',
    );
    expect(rejection('compose/app.yml', APP.replace('{ value: "5050" }', '{ value: 5050 }')).message).toBe(
      'compose/app.yml: env.APP_PORT.value: a constant is text: write it in quotes ("true", "5050")',
    );
  });

  describe('in a folder', () => {
    let dir: string | undefined;
    afterEach(() => {
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('names the broken file among the others', () => {
      dir = join(mkdtempSync(join(tmpdir(), 'msting-catalogue-')), 'compose');
      cpSync(COMPOSE_DIR, dir, { recursive: true });
      writeFileSync(join(dir, 'grafana.yml'), `${readFileSync(join(dir, 'grafana.yml'), 'utf8')}hardening: true\n`);
      expect(() => loadCatalogue(dir!)).toThrow('compose/grafana.yml: hardening: unknown key');
    });

    it('names a dependency on a service the catalogue does not have', () => {
      dir = join(mkdtempSync(join(tmpdir(), 'msting-catalogue-')), 'compose');
      cpSync(COMPOSE_DIR, dir, { recursive: true });
      writeFileSync(join(dir, 'messaging.yml'), readFileSync(join(dir, 'messaging.yml'), 'utf8').replace('redis: healthy', 'rediss: healthy'));
      expect(() => loadCatalogue(dir!)).toThrow('compose/messaging.yml: depends_on: rediss is not a service of the catalogue');
    });

    it('names a secret given to a service that SECRET_SPECS does not give it', () => {
      dir = join(mkdtempSync(join(tmpdir(), 'msting-catalogue-')), 'compose');
      cpSync(COMPOSE_DIR, dir, { recursive: true });
      writeFileSync(join(dir, 'messaging.yml'), `${readFileSync(join(dir, 'messaging.yml'), 'utf8')}  KRATOS_SECRET: { secret: kratos.cookie }\n`);
      expect(() => loadCatalogue(dir!)).toThrow('compose/messaging.yml: env.KRATOS_SECRET.secret: kratos.cookie is not given to messaging: add messaging to its consumers in src/stack/secrets.ts');
    });
  });
});

describe('the catalogue', () => {
  it('has one file for every fixed service', () => {
    expect(Object.keys(CATALOGUE).sort()).toEqual([...FIXED_SERVICES].sort());
  });

  // The renderers and env files assume these paths and ports; a catalogue change that moves one
  // must move the constant too, or the service would read its config from where nothing is mounted.
  it('mounts and listens where the rendered config files and env files expect', () => {
    const plan = planStack(makeConfig(), cpuRecommendation(makeConfig()), 'full', { modelsDir: '/opt/models' });
    const service = (name: string) => plan.services.find((s) => s.name === name)!;
    const targets = (name: string) => service(name).mounts.map((m) => m.target);
    expect(targets('kratos')).toEqual(expect.arrayContaining([`${KRATOS_CONFIG_DIR}/kratos.yml`, `${KRATOS_CONFIG_DIR}/identity.schema.json`, KRATOS_CERTS_DIR]));
    expect(service('kratos-migrate').command).toContain(`${KRATOS_CONFIG_DIR}/kratos.yml`);
    expect(targets('app')).toContain(APP_HOME);
    expect(targets('frontend')).toContain(FRONTEND_ENV_JS);
    expect(targets('log-forwarder')).toContain(MSTING_LOGS_MOUNT);
    expect(service('chatbot').expose).toEqual([CHATBOT_PORT]);
    expect(service('chatbot').health!.test.join(' ')).toContain(`:${CHATBOT_PORT}/`);
    expect(service('external-ai').health!.test.join(' ')).toContain(`:${EXTERNAL_AI_PORT}/`);
    expect(service('grafana').configFiles).toEqual(GRAFANA_PROVISIONING_FILES.map((f) => `compose/config/grafana/${f}`));
    expect(CATALOGUE.chatbot!.env.BEE_PORT!.value).toBe(String(CHATBOT_PORT));
    expect(CATALOGUE['external-ai']!.env.EXTERNAL_AI_PORT!.value).toBe(String(EXTERNAL_AI_PORT));
    expect(CATALOGUE.app!.env.HOME!.value).toBe(APP_HOME);
  });

  it('gives the database container the password of every service role, under the name its init script reads', () => {
    const db = CATALOGUE.db!.env;
    for (const user of DATABASE_USERS) expect(db[databasePasswordVariable(user)], user).toEqual({ secret: `db.${user}` });
  });
});
