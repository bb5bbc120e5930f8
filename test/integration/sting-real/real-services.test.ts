import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInstalledCli, type CliRun } from '../../support/cli.js';
import { ROOT, describeDocker, freePortBlock, testImages } from '../../support/docker.js';
import { stackImages, writeStackHome } from '../../support/stack-home.js';

/**
 * STING-CE's own code under msting: the chatbot (Bee, chatbot.bee_server) and the messaging
 * service, built from the STING-CE source tree that STING_CE_SRC names, with their Python
 * dependencies from Debian packages (test/images/sting-python, test/images/sting-ce/build.sh), run
 * in the full profile of msting's render next to real PostgreSQL and Redis (the Debian test image;
 * the other services are stand-ins). They must become healthy under msting's own health checks,
 * find STING-CE's tables in their databases, and connect to PostgreSQL as their own users and to
 * Redis with what msting rendered. What these services read is listed in
 * test/integration/sting-real/README.md.
 */

const BASE_PORT = await freePortBlock(20);
const project = `msting-sting-real-${process.pid}`;

function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** The STING/ folder of the tree STING_CE_SRC names (a checkout, or its STING/ folder itself). */
function stingFolder(): string | null {
  const src = process.env.STING_CE_SRC;
  if (!src) return null;
  const tree = resolve(ROOT, src);
  return existsSync(join(tree, 'STING', 'chatbot')) ? join(tree, 'STING') : tree;
}

const sting = stingFolder();
const missing = 'STING_CE_SRC is not set: point it at a STING-CE source tree (a checkout of AlphaBytez/STING-CE) to run its chatbot and messaging service';

let work: string;
let home: string;
let serviceImages: Record<'chatbot' | 'messaging', string>;

function msting(args: string[]): Promise<CliRun> {
  return runInstalledCli(home, work, args);
}

function docker(args: string[]): string {
  return execFileSync('docker', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

function container(service: string): string {
  const id = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`, '--filter', `label=com.docker.compose.service=${service}`]).split('\n')[0];
  if (!id) throw new Error(`no ${service} container in project ${project}`);
  return id;
}

function ipAddresses(service: string): string[] {
  return docker(['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', container(service)]).split(' ').filter(Boolean);
}

/** psql as the superuser over the db container's local socket; rows with fields split on `|`. */
function sql(database: string, query: string): string[][] {
  const out = docker(['exec', container('db'), 'psql', '-X', '-v', 'ON_ERROR_STOP=1', '-U', 'postgres', '-d', database, '-Atc', query]);
  return out ? out.split('\n').map((row) => row.split('|')) : [];
}

/** `CLIENT LIST` of the Redis container, with its password when msting renders one. */
function redisClients(): string[] {
  const list = docker(['exec', container('redis'), 'sh', '-c', 'if [ -n "${REDIS_PASSWORD:-}" ]; then export REDISCLI_AUTH="$REDIS_PASSWORD"; fi; exec redis-cli CLIENT LIST']);
  return list.split('\n').filter(Boolean);
}

/** User and database of a postgres URL in a service's rendered env file (never its password). */
async function databaseOf(service: string): Promise<{ user: string; database: string }> {
  const env = await readFile(join(home, 'env', `${service}.env`), 'utf8');
  const line = env.split('\n').find((l) => l.startsWith('DATABASE_URL='));
  if (!line) throw new Error(`msting renders no DATABASE_URL for ${service}`);
  const url = new URL(line.slice('DATABASE_URL='.length).replace(/^'|'$/g, ''));
  return { user: decodeURIComponent(url.username), database: url.pathname.slice(1) };
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * The container's output, stdout and stderr (Python's logging writes to stderr), with the password
 * of any URL blanked: chatbot/core/database_manager.py:38 logs the first 60 characters of
 * DATABASE_URL, password included.
 */
function logsOf(service: string, tail = 40): string {
  try {
    const r = spawnSync('docker', ['logs', '--tail', String(tail), container(service)], { encoding: 'utf8' });
    return `${r.stdout}${r.stderr}`
      .replace(/(:\/\/[^:/@\s]*:)[^@\s]*@/g, '$1***@')
      .replace(/(DATABASE_URL\b.*?:\/\/[^:/@\s]*:)[^@\s]*$/gm, '$1***')
      .trim();
  } catch (e) {
    return String(e);
  }
}

describeDocker('STING-CE chatbot and messaging service from the real source under msting', () => {
  if (sting === null && isCi()) {
    it('has a STING-CE source tree to build from', () => {
      throw new Error(`${missing} (.ci/run sets it; under CI this test must run)`);
    });
    return;
  }

  describe.skipIf(sting === null)(sting === null ? `(skipped: ${missing})` : 'full profile, real PostgreSQL and Redis', () => {
    beforeAll(async () => {
      const images = stackImages();
      const built = execFileSync(join(ROOT, 'test', 'images', 'sting-ce', 'build.sh'), [testImages().stingPython, sting!], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
        timeout: 600_000,
      });
      serviceImages = Object.fromEntries(built.trim().split('\n').map((l) => l.split(' ') as [string, string])) as typeof serviceImages;
      ({ work, home } = await writeStackHome({
        prefix: 'msting-sting-real-it-',
        project,
        basePort: BASE_PORT,
        images,
        overrides: serviceImages,
        profile: 'full',
        sourceDir: sting!,
        // The full profile without model services: the one enabled model is far too big for any
        // test machine, so the hardware recommendation leaves it out and the gateway answers for it.
        configLines: ['llm:', '  default_model: oversized', '  models:', '    - name: oversized', '      repo: example/oversized', '      parameters_b: 5000'],
        // Sixteen containers checked every second would keep two cores busy with health checks alone.
        healthCheck: { intervalS: 3, timeoutS: 20 },
        // Long enough for a busy machine: PostgreSQL's first start runs initdb and the init SQL;
        // messaging's 0.5 CPU takes tens of seconds to import FastAPI there.
        startPeriod: (s) => (s === 'db' ? 150 : 90),
      }));
      // --force: preflight asks the full profile's nominal memory (32 GiB); stand-ins use a fraction.
      const install = await msting(['install', '--yes', '--skip-models', '--force', '--profile', 'full', '--timeout', '240']);
      if (install.code !== 0) {
        throw new Error(
          `msting install --profile full failed (exit ${install.code}):\n${install.stderr.split('\n').slice(-25).join('\n')}\n` +
            `--- chatbot logs:\n${logsOf('chatbot')}\n--- messaging logs:\n${logsOf('messaging')}`,
        );
      }
    }, 600_000);

    afterAll(async () => {
      if (home && existsSync(home)) await msting(['uninstall', '--purge', '--yes']).catch(() => undefined);
      const left = docker(['ps', '-aq', '--filter', `label=com.docker.compose.project=${project}`]).split('\n').filter(Boolean);
      if (left.length > 0) execFileSync('docker', ['rm', '-f', ...left], { stdio: 'ignore' });
      if (work) await rm(work, { recursive: true, force: true });
    });

    it('runs both services from the images built from the source, healthy under msting status', async () => {
      const status = await msting(['--json', 'status']);
      expect(status.code, status.stderr).toBe(0);
      const report = JSON.parse(status.stdout) as { services: { service: string; ok: boolean; image?: string }[] };
      for (const service of ['chatbot', 'messaging'] as const) {
        const entry = report.services.find((s) => s.service === service);
        expect(entry, `${service} in msting status`).toMatchObject({ ok: true });
        expect(docker(['inspect', '-f', '{{.Config.Image}} {{.State.Health.Status}} {{.RestartCount}}', container(service)])).toBe(`${serviceImages[service]} healthy 0`);
      }
      // STING-CE's own health check of the chatbot (docker-compose.yml) expects Bee's answer.
      const bee = docker(['exec', container('chatbot'), 'sh', '-c', 'curl -fsS "http://127.0.0.1:${BEE_PORT:-8888}/health"']);
      expect(JSON.parse(bee)).toMatchObject({ service: 'bee' });
      const messaging = docker(['exec', container('messaging'), 'curl', '-fsS', 'http://127.0.0.1:8889/health']);
      expect(JSON.parse(messaging)).toMatchObject({ service: 'messaging', status: 'healthy' });
    });

    it("finds STING-CE's chatbot tables in its database, usable by its own database user", async () => {
      const { user, database } = await databaseOf('chatbot');
      expect(user, 'the chatbot connects as its own user, not the superuser').not.toBe('postgres');
      // docker-entrypoint-initdb.d/05-chatbot-memory.sql: what chatbot/core/database_manager.py queries.
      const tables = sql(database, "select table_name from information_schema.tables where table_schema = 'public'").map((r) => r[0]);
      expect(tables).toEqual(expect.arrayContaining(['conversations', 'messages', 'memory_entries', 'conversation_context', 'extracted_entities', 'learned_facts']));
      expect(sql(database, "select 1 from information_schema.columns where table_name = 'conversations' and column_name = 'model_type'")).toEqual([['1']]);
      const grants = sql(database, `select has_table_privilege('${user}', 'conversations', 'SELECT,INSERT,UPDATE'), has_table_privilege('${user}', 'messages', 'SELECT,INSERT')`);
      expect(grants).toEqual([['t', 't']]);
    });

    it('holds live PostgreSQL connections as the chatbot user, from the chatbot container', async () => {
      const { user, database } = await databaseOf('chatbot');
      const ips = ipAddresses('chatbot');
      // chatbot/core/database_manager.py opens a pool of at least two connections at start.
      const rows = await until('the chatbot pool in pg_stat_activity', () => {
        const r = sql('postgres', `select usename, datname, host(client_addr) from pg_stat_activity where usename = '${user}'`).filter((row) => ips.includes(row[2]!));
        return r.length >= 2 ? r : undefined;
      });
      for (const row of rows) expect(row.slice(0, 2)).toEqual([user, database]);
    });

    it('is a client of Redis from the chatbot container (chatbot/bee_server.py: redis:6379, db 2)', async () => {
      const ips = ipAddresses('chatbot');
      const client = await until('a Redis client from the chatbot', () => redisClients().find((c) => ips.some((ip) => c.includes(` addr=${ip}:`))));
      expect(client).toMatch(/ db=2 /);
      expect(logsOf('chatbot', 10_000)).toContain('Adaptive context manager initialized with Redis caching');
    });

    it("has the messaging database from STING-CE's SQL, reachable with the messaging service's rendered DATABASE_URL and REDIS_URL", async () => {
      const { user, database } = await databaseOf('messaging');
      expect(user).not.toBe('postgres');
      // docker-entrypoint-initdb.d/04-messaging-database.sql and 05-bee-conversations.sql.
      const tables = sql(database, "select table_name from information_schema.tables where table_schema = 'public'").map((r) => r[0]);
      expect(tables).toEqual(expect.arrayContaining(['conversations', 'messages', 'conversation_summaries']));
      // The messaging service's code keeps messages in memory (storage/message_store.py and
      // queue/message_queue.py leave PostgreSQL and Redis as TODOs), so it opens no connection of
      // its own: connect from its container with the Debian clients its image has, and its env.
      // `python -I` and cwd /: the service's own queue/ package shadows the standard library's
      // queue module, which redis-py imports.
      const probe = [
        'import asyncio, json, os, asyncpg, redis',
        'async def main():',
        '    c = await asyncpg.connect(os.environ["DATABASE_URL"])',
        '    row = await c.fetchrow("select current_user, current_database(), count(*) from conversations")',
        '    await c.close()',
        '    return list(row)',
        'r = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://redis:6379"))',
        'print(json.dumps({"db": asyncio.run(main()), "redis": r.ping()}))',
      ].join('\n');
      const out = JSON.parse(docker(['exec', '-w', '/', container('messaging'), 'python', '-I', '-c', probe])) as { db: [string, string, number]; redis: boolean };
      expect(out).toEqual({ db: [user, database, 0], redis: true });
    });
  });
});
