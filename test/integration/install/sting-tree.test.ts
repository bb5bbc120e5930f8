import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PORT_KEYS } from '../../../src/stack/names.js';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { freePortBlock, ROOT } from '../../support/docker.js';
import { stackImages, writeStackHome } from '../../support/stack-home.js';

/**
 * `msting install --profile full --skip-models` with `images.source_dir` naming a STING-CE-shaped
 * source tree built here: Dockerfiles at the real tree's paths (FROM the local stand-in image) and
 * STING-CE's schema SQL at its real path: the real files when STING_CE_SRC names a STING-CE
 * checkout, else test/fixtures/sting-tree (the same files, cut down). config.yml names one small
 * model that fits any machine, so the full profile runs one model service whatever the hardware
 * recommendation says (its weights are another test's: --skip-models); --force passes the
 * preflight's memory floor for the full profile on a small test machine. Checked on the real
 * engine: every STING-CE image, the model's on sting/llm-base:latest included, was built from
 * its Dockerfile and context, the schema's tables are in the right databases owned by the right
 * roles, and the app, chatbot and knowledge containers hold the database URL of their own role,
 * which works against the real PostgreSQL for the tables each uses and for nothing else.
 */

const project = `msting-tree-it-${process.pid}`;
const base = await freePortBlock(PORT_KEYS.length);
const registry = `msting-tree-it-${process.pid}`;
const realTree = process.env.STING_CE_SRC ? join(process.env.STING_CE_SRC, 'STING') : null;

/** The Dockerfiles of STING-CE's docker-compose.yml `build:` sections: path → its context. */
const DOCKERFILES: Record<string, string> = {
  'app/Dockerfile.app': '.',
  'frontend/Dockerfile.react-nginx': 'frontend',
  'chatbot/Dockerfile': '.',
  'messaging_service/Dockerfile': 'messaging_service',
  'knowledge_service/Dockerfile': 'knowledge_service',
  'external_ai_service/Dockerfile': '.',
  'llm_service/Dockerfile.llm-base': 'llm_service',
};
const BUILT = ['app', 'frontend', 'chatbot', 'messaging', 'knowledge'];

let work: string;
let home: string;
let tree: string;

function msting(args: string[]): Promise<CliRun> {
  return runInstalledCli(home, work, args);
}

function docker(args: string[], input?: string): string {
  return execFileSync('docker', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] }).trim();
}

function container(service: string): string {
  return docker(['ps', '-q', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]);
}

/** psql as the superuser in the db container. */
function psql(database: string, sql: string): string {
  return docker(['exec', container('db'), 'psql', '--no-psqlrc', '-v', 'ON_ERROR_STOP=1', '-tA', '-U', 'postgres', '-d', database, '-c', sql]);
}

/** psql in the db container with a service's own database URL (given on standard input, never in argv). */
function psqlAs(url: string, sql: string): { ok: boolean; out: string } {
  try {
    const out = docker(['exec', '-i', container('db'), 'sh', '-c', 'read -r url; exec psql "$url" --no-psqlrc -v ON_ERROR_STOP=1 -tA -c "$0"', sql], `${url}\n`);
    return { ok: true, out };
  } catch (err) {
    return { ok: false, out: String((err as { stderr?: string }).stderr ?? err) };
  }
}

/** A variable of a running service's environment, as the process sees it. */
function containerEnv(service: string, name: string): string | undefined {
  const line = docker(['exec', container(service), 'env'])
    .split('\n')
    .find((l) => l.startsWith(`${name}=`));
  return line?.slice(name.length + 1);
}

async function writeTree(busybox: string): Promise<void> {
  for (const [dockerfile, context] of Object.entries(DOCKERFILES)) {
    await mkdir(join(tree, dirname(dockerfile)), { recursive: true });
    const marker = join(context === '.' ? dirname(dockerfile) : '', 'tree-marker.txt');
    // The file copied proves the context: a path relative to the context the recipe must use.
    await writeFile(join(tree, context, marker), `${dockerfile}\n`);
    await writeFile(join(tree, dockerfile), [`FROM ${busybox}`, `COPY ${marker} /sting-tree/dockerfile`, `LABEL sting.tree.dockerfile=${dockerfile}`, ''].join('\n'));
  }
  await writeFile(join(tree, 'llm_service', 'Dockerfile.llm'), ['FROM sting/llm-base:latest', 'ARG MODEL_NAME=llama3', 'ENV MODEL_NAME=${MODEL_NAME}', ''].join('\n'));
  const schema = realTree ?? join(ROOT, 'test', 'fixtures', 'sting-tree');
  await cp(join(schema, 'docker-entrypoint-initdb.d'), join(tree, 'docker-entrypoint-initdb.d'), { recursive: true });
  if (existsSync(join(schema, 'database', 'migrations'))) await cp(join(schema, 'database', 'migrations'), join(tree, 'database', 'migrations'), { recursive: true });
}

/** Whether sting/llm-base:latest was on the engine before this test (then it is left there). */
let basePresentBefore = true;

beforeAll(async () => {
  const images = stackImages();
  basePresentBefore = docker(['images', '-q', 'sting/llm-base:latest']) !== '';
  ({ work, home } = await writeStackHome({
    prefix: 'msting-tree-it-',
    project,
    basePort: base,
    images,
    sourceBuilt: BUILT,
    portKeys: PORT_KEYS,
    imageLines: [`registry: ${registry}`, 'version: it'],
    // One small model that fits any machine, so the full profile's model service is deterministic.
    configLines: ['llm:', '  default_model: tiny', '  models:', '    - name: tiny', '      repo: msting-test/tiny', '      parameters_b: 0.1'],
    overrides: { 'llm-gateway': images.busybox, loki: images.busybox, promtail: images.busybox, grafana: images.busybox, 'log-forwarder': images.busybox },
  }));
  tree = join(work, 'STING');
  await writeTree(images.busybox);
  // source_dir goes into the images: section written above.
  const config = await readFile(join(home, 'conf', 'config.yml'), 'utf8');
  await writeFile(join(home, 'conf', 'config.yml'), config.replace('images:\n', `images:\n  source_dir: ${tree}\n`));
  // Health checks every three seconds for the whole full profile (each is an exec, costly on a
  // small machine), patient with a busy test machine
  // (the first start of PostgreSQL runs the schema; stand-ins answer slowly under load).
  const services = ['vault', 'db', 'redis', 'kratos', 'mailpit', 'app', 'frontend', 'messaging', 'chroma', 'knowledge', 'llm-gateway', 'chatbot', 'loki', 'promtail', 'grafana', 'log-forwarder', 'tiny'];
  await writeFile(
    join(home, 'compose', 'docker-compose.override.yml'),
    `services:\n${services.map((s) => `  ${s}:\n    healthcheck:\n      interval: 3s\n      start_period: ${s === 'db' ? 300 : 120}s\n      timeout: 30s\n      retries: 10\n`).join('')}`,
  );
}, 600_000);

afterAll(async () => {
  if (home && existsSync(home)) await msting(['uninstall', '--purge', '--yes']).catch(() => undefined);
  const ids = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
  if (ids.length > 0) execFileSync('docker', ['rm', '-f', ...ids], { stdio: 'ignore' });
  const tags = docker(['images', '--format', '{{.Repository}}:{{.Tag}}', `${registry}/*`]).split('\n').filter(Boolean);
  if (!basePresentBefore) tags.push('sting/llm-base:latest');
  if (tags.length > 0) execFileSync('docker', ['rmi', '-f', ...tags], { stdio: 'ignore' });
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`install --profile full from a STING-CE source tree (schema: ${realTree ? 'STING_CE_SRC' : 'test fixture'})`, () => {
  it('builds every STING-CE image from its Dockerfile and context, and the stack comes up', async () => {
    const r = await msting(['install', '--yes', '--force', '--timeout', '900', '--profile', 'full', '--skip-models']);
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/STING-CE is installed \(profile full\)/);
    const dockerfileOf: Record<string, string> = {
      app: 'app/Dockerfile.app',
      frontend: 'frontend/Dockerfile.react-nginx',
      chatbot: 'chatbot/Dockerfile',
      messaging: 'messaging_service/Dockerfile',
      knowledge: 'knowledge_service/Dockerfile',
    };
    for (const service of BUILT) {
      const image = `${registry}/sting-ce-${service}:it`;
      expect(docker(['image', 'inspect', '-f', '{{index .Config.Labels "sting.tree.dockerfile"}}', image]), service).toBe(dockerfileOf[service]);
      expect(docker(['inspect', '-f', '{{.Config.Image}}', container(service)]), service).toBe(image);
      expect(docker(['exec', container(service), 'cat', '/sting-tree/dockerfile']), service).toBe(dockerfileOf[service]);
    }
    // The model service: llm_service/Dockerfile.llm with MODEL_NAME, on the base image built first.
    const model = `${registry}/sting-ce-llm-tiny:it`;
    expect(docker(['image', 'inspect', '-f', '{{index .Config.Labels "sting.tree.dockerfile"}}', model])).toBe('llm_service/Dockerfile.llm-base');
    expect(docker(['image', 'inspect', '-f', '{{json .Config.Env}}', model])).toContain('MODEL_NAME=tiny');
    expect(docker(['inspect', '-f', '{{.Config.Image}}', container('tiny')])).toBe(model);
  }, 900_000);

  it("STING-CE's schema is in the right databases, owned by the services' roles, without its hard-coded passwords", () => {
    const tables = (db: string) => psql(db, "SELECT tablename || ':' || tableowner FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").split('\n');
    const app = tables('sting_app');
    for (const t of ['users', 'honey_jars', 'documents', 'marketplace_listings', 'conversations', 'messages', 'memory_entries']) expect(app).toContain(`${t}:app_user`);
    const messaging = tables('sting_messaging');
    for (const t of ['conversations', 'messages']) expect(messaging).toContain(`${t}:messaging_user`);
    expect(psql('postgres', "SELECT datname || ':' || pg_get_userbyid(datdba) FROM pg_database WHERE datname LIKE 'sting%' OR datname = 'kratos' ORDER BY 1").split('\n')).toEqual([
      'kratos:kratos_user',
      'sting_app:app_user',
      'sting_messaging:messaging_user',
    ]);
    // Functions and triggers of the schema, and its migrations applied after it.
    expect(psql('sting_app', "SELECT count(*) FROM pg_trigger WHERE tgname = 'update_honey_jars_updated_at'")).toBe('1');
    expect(psql('sting_app', "SELECT count(*) FROM information_schema.columns WHERE table_name = 'honey_jars' AND column_name = 'updated_at'")).toBe('1');
    expect(psql('sting_app', "SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto'")).toBe('1');
    // 03-database-users.sql never ran: no role has STING-CE's published password.
    for (const role of ['app_user', 'kratos_user', 'messaging_user']) {
      const url = `postgresql://${role}:${role.replace('_user', '')}_secure_password_change_me@127.0.0.1:5432/postgres`;
      expect(psqlAs(url, 'SELECT 1').ok, role).toBe(false);
    }
  });

  it('app, chatbot and knowledge see the database URL of their own role, which reaches their tables and no others', async () => {
    const urls = Object.fromEntries(['app', 'chatbot', 'knowledge', 'messaging'].map((s) => [s, containerEnv(s, 'DATABASE_URL') ?? '']));
    expect(urls.app).toMatch(/^postgresql:\/\/app_user:[^@]+@db:5432\/sting_app$/);
    expect(urls.chatbot).toMatch(/^postgresql:\/\/chatbot_user:[^@]+@db:5432\/sting_app$/);
    expect(urls.knowledge).toMatch(/^postgresql:\/\/knowledge_user:[^@]+@db:5432\/sting_app$/);
    expect(urls.messaging).toMatch(/^postgresql:\/\/messaging_user:[^@]+@db:5432\/sting_messaging$/);

    expect(psqlAs(urls.app!, 'SELECT count(*) FROM users')).toEqual({ ok: true, out: '0' });
    expect(psqlAs(urls.knowledge!, "INSERT INTO honey_jars (name, owner) VALUES ('it', 'it') RETURNING name")).toMatchObject({ ok: true, out: expect.stringContaining('it') });
    expect(psqlAs(urls.knowledge!, 'SELECT count(*) FROM users').out).toMatch(/permission denied for table users/);
    expect(psqlAs(urls.chatbot!, "INSERT INTO conversations (user_id) VALUES ('it') RETURNING user_id")).toMatchObject({ ok: true, out: expect.stringContaining('it') });
    expect(psqlAs(urls.chatbot!, 'SELECT count(*) FROM memory_entries')).toEqual({ ok: true, out: '0' });
    expect(psqlAs(urls.chatbot!, 'SELECT count(*) FROM honey_jars').out).toMatch(/permission denied/);
    expect(psqlAs(urls.messaging!, 'SELECT count(*) FROM conversations')).toEqual({ ok: true, out: '0' });
    expect(psqlAs(urls.app!.replace(/sting_app$/, 'sting_messaging'), 'SELECT 1').out).toMatch(/permission denied for database "sting_messaging"/);

    // Files of the contract: the app's TLS certificate and Vault token, the knowledge service's data volume.
    expect(docker(['exec', container('app'), 'ls', '/app/certs']).split('\n')).toEqual(expect.arrayContaining(['server.crt', 'server.key']));
    expect(docker(['exec', container('app'), 'ls', '/run/secrets'])).toMatch(/vault-token/);
    expect(docker(['exec', container('knowledge'), 'sh', '-c', 'touch /app/data/it && ls /app/data'])).toMatch(/it/);
    // The db.env password variables are in no other service's environment.
    expect(containerEnv('chatbot', 'STING_DB_APP_PASSWORD')).toBeUndefined();
    expect(await readFile(join(home, 'compose', 'config', 'db', 'initdb', '00-msting-roles.sh'), 'utf8')).toMatch(/03-database-users\.sql: it creates database users with passwords written in the file/);
  });
});
