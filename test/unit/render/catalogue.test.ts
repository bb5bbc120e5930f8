import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CATALOGUE } from '../../../src/stack/catalogue/data.js';
import { CatalogueError, loadCatalogue, parseCatalogueEntry } from '../../../src/stack/catalogue/load.js';
import { FIXED_SERVICES } from '../../../src/stack/names.js';
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
  });
});
