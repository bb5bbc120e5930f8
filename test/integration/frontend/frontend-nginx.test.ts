import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { configSchema } from '../../../src/config/schema.js';
import { renderFrontendNginx } from '../../../src/render/frontend-nginx.js';
import { ensureLocalCertificates } from '../../../src/ssl/local-ca.js';
import { ROOT, describeDocker, docker, testImages, uniqueProject } from '../../support/docker.js';

/**
 * The rendered frontend nginx.conf on a real nginx (Debian's, in msting-test/debian), in front of
 * stand-ins for the app, Kratos, the knowledge service, the chatbot and Mailpit that answer with
 * their name and the request they received (test/fixtures/frontend/upstreams.conf), on a network
 * of their own. Shows the routes STING-CE's UI depends on and that the auth limit throttles
 * sign-in submissions but never /api/auth/me.
 */

const PORT = 21100;
const RUN = uniqueProject('msting-fe');
const LABEL = 'msting.test=frontend';
let work = '';
let agent: Agent;

/**
 * Debian's nginx 1.22 predates the `http2` directive (1.25.1; STING-CE's image has 1.27) and has
 * no `nginx` user: the two lines that differ are adapted, nothing else.
 */
function forDebianNginx(conf: string): string {
  return conf.replace(/^user nginx;$/m, 'user www-data;').replace(/^\s*http2 on;\n/m, '').replace('listen 8443 ssl;', 'listen 8443 ssl http2;');
}

async function get(path: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; body: string }> {
  const res = await request(`https://localhost:${PORT}${path}`, { method, dispatcher: agent, body: method === 'POST' ? 'identifier=a%40example.com' : undefined });
  return { status: res.statusCode, body: await res.body.text() };
}

describeDocker('the frontend nginx.conf on a real nginx', () => {
  beforeAll(async () => {
    const { debian } = testImages();
    work = await mkdtemp(join(tmpdir(), 'msting-frontend-it-'));
    const certs = join(work, 'certs');
    await ensureLocalCertificates({ certsDir: certs, secretsDir: join(work, 'secrets'), names: ['localhost'] });
    agent = new Agent({ connect: { ca: await readFile(join(certs, 'ca.crt'), 'utf8') } });
    // The API limit opened wide, so what throttles here is the auth limit (5 r/min, DESIGN's default).
    // Its burst (20) still applies: requests that arrive in the same millisecond beyond 21 get 429.
    const config = configSchema.parse({ frontend: { rate_limits: { api: '1000r/s' } } });
    await writeFile(join(work, 'nginx.conf'), forDebianNginx(renderFrontendNginx(config, { knowledge: true, chatbot: true, mailpit: true })));

    await docker(['network', 'create', '--label', LABEL, RUN]);
    const aliases = ['app', 'kratos', 'knowledge', 'chatbot', 'mailpit'].flatMap((a) => ['--network-alias', a]);
    await docker(['run', '-d', '--label', LABEL, '--name', `${RUN}-upstreams`, '--network', RUN, ...aliases,
      '-v', `${join(ROOT, 'test/fixtures/frontend')}:/fixture:ro`, '-v', `${certs}:/certs:ro`, debian, 'nginx', '-c', '/fixture/upstreams.conf', '-g', 'daemon off;']);
    await docker(['run', '-d', '--label', LABEL, '--name', `${RUN}-frontend`, '--network', RUN, '-p', `127.0.0.1:${PORT}:8443`,
      '-v', `${work}:/etc/msting:ro`, '-v', `${certs}:/etc/nginx/certs:ro`, debian, 'nginx', '-c', '/etc/msting/nginx.conf', '-g', 'daemon off;']);

    const deadline = Date.now() + 60_000;
    for (;;) {
      const ok = await get('/health').then((r) => r.status === 200 && (r.body === 'ok'), () => false);
      if (ok && (await get('/api/health').then((r) => r.body.startsWith('app'), () => false))) break;
      if (Date.now() > deadline) throw new Error(`the frontend did not come up:\n${await docker(['logs', `${RUN}-frontend`]).catch((e: Error) => e.message)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }, 120_000);

  afterAll(async () => {
    await docker(['rm', '-f', `${RUN}-frontend`, `${RUN}-upstreams`]).catch(() => undefined);
    await docker(['network', 'rm', RUN]).catch(() => undefined);
    await agent?.close();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it("routes as STING-CE's nginx.https.conf: Kratos with and without /.ory, the chatbot, knowledge, Mailpit, the API", async () => {
    const routes: [string, string][] = [
      ['/.ory/self-service/login/browser?aal=aal2', 'kratos GET /self-service/login/browser?aal=aal2'],
      ['/.ory/sessions/whoami', 'kratos GET /sessions/whoami'],
      ['/self-service/verification?flow=f1&code=123456', 'kratos GET /self-service/verification?flow=f1&code=123456'],
      ['/sessions/whoami', 'kratos GET /sessions/whoami'],
      ['/.well-known/ory/webauthn.js', 'kratos GET /.well-known/ory/webauthn.js'],
      ['/api/auth/me', 'app GET /api/auth/me'],
      ['/api/bee/chat', 'chatbot GET /chat'],
      ['/api/knowledge/honey-jars?limit=5', 'knowledge GET /honey-jars?limit=5'],
      ['/mailpit/api/v1/messages', 'mailpit GET /mailpit/api/v1/messages'],
      ['/api/external-ai/generate', 'app GET /api/external-ai/generate'],
    ];
    for (const [path, expected] of routes) expect((await get(path)).body, path).toBe(expected);
  });

  it('throttles sign-in submissions at 5 per minute but never /api/auth/me or fetching a flow', async () => {
    // 15 at once: well past the auth budget (rate plus a burst of 5), within the API burst (20)
    // whatever the timing, so a 429 here could only come from the auth limit.
    const me = await Promise.all(Array.from({ length: 15 }, () => get('/api/auth/me')));
    expect(me.map((r) => r.status)).toEqual(Array(15).fill(200));

    const posts: number[] = [];
    for (let i = 0; i < 8; i++) posts.push((await get('/.ory/self-service/login?flow=f1', 'POST')).status);
    // The rate plus a burst of 5, then 429.
    expect(posts).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
    // The same budget covers the app's credential endpoints and Kratos's bare paths.
    expect((await get('/api/auth/check-user', 'POST')).status).toBe(429);
    expect((await get('/self-service/recovery?flow=f2', 'POST')).status).toBe(429);

    const after = await Promise.all([get('/api/auth/me'), get('/.ory/self-service/login/flows?id=f1'), get('/.ory/sessions/whoami')]);
    expect(after.map((r) => r.status)).toEqual([200, 200, 200]);
  });
});
