import { describe, expect, it } from 'vitest';
import { renderFrontendEnvJs, renderFrontendNginx } from '../../../src/render/frontend-nginx.js';
import { envFilePath, serviceConfigPath } from '../../../src/stack/plan.js';
import { mapSecretsProvider } from '../../../src/stack/secrets.js';
import { makeConfig, render } from './fixtures.js';

/** The body of the `location` block whose arguments are exactly `args`, or undefined. */
function location(conf: string, args: string): string | undefined {
  const start = conf.indexOf(`location ${args} {\n`);
  if (start < 0) return undefined;
  return conf.slice(start, conf.indexOf('\n        }\n', start));
}

const ALL = { knowledge: true, chatbot: true, mailpit: true };

describe('frontend nginx.conf', () => {
  const conf = renderFrontendNginx(makeConfig(), ALL);

  it("routes as STING-CE's nginx.https.conf: Kratos under /.ory/ and at its bare paths, the chatbot, Mailpit", () => {
    expect(location(conf, '/.ory/')).toMatch(/rewrite \^\/\[\.\]ory\/\(\.\*\)\$ \/\$1 break;[\s\S]*proxy_pass https:\/\/\$kratos_upstream;/);
    expect(location(conf, '~ ^/(self-service|sessions|identities|schemas|health|version)/')).toContain('proxy_pass https://$kratos_upstream;');
    expect(location(conf, '^~ /.well-known/')).toContain('proxy_pass https://$kratos_upstream;');
    expect(location(conf, '/api/bee/')).toMatch(/set \$chatbot_upstream chatbot:8888;\n\s+rewrite \^\/api\/bee\/\(\.\*\)\$ \/\$1 break;[\s\S]*proxy_pass http:\/\/\$chatbot_upstream;/);
    expect(location(conf, '/api/knowledge/')).toContain('proxy_pass http://$knowledge_upstream;');
    const mailpit = location(conf, '/mailpit/')!;
    // The path is kept: Mailpit serves under MP_WEBROOT=/mailpit.
    expect(mailpit).not.toContain('rewrite');
    expect(mailpit).toContain('proxy_set_header Upgrade $http_upgrade;');
    expect(mailpit).toContain('proxy_pass http://$mailpit_upstream;');
    expect(location(conf, '/api/')).toContain('proxy_pass https://$app_upstream;');
    expect(conf).toContain('resolver 127.0.0.11 valid=30s ipv6=off;');
  });

  it('limits only credential submissions with the auth limit, never /api/auth/me or whoami', () => {
    expect(conf).toContain('limit_req_zone $auth_limit_key zone=auth:10m rate=5r/m;');
    expect(conf).toMatch(/map \$request_method \$auth_limit_key \{\n\s+default \$binary_remote_addr;\n\s+GET "";\n\s+HEAD "";\n\s+OPTIONS "";/);
    const authLocations = [...conf.matchAll(/location ([^{]+) \{\n([^}]*)\}/g)].filter(([, , body]) => body!.includes('zone=auth ')).map(([, args]) => args);
    expect(authLocations).toEqual([
      '~ ^/[.]ory/self-service/(login|registration|recovery|verification|settings)',
      '~ ^/self-service/(login|registration|recovery|verification|settings)',
      '~ ^/api/auth/(check-user|register|change-password|verify-password|password-change-login|grant-aal2-access|session/grant-aal2-access|admin-setup-(email|verify-email|totp|passkey))$',
    ]);
    const credential = new RegExp(authLocations[2]!.slice(2));
    expect(credential.test('/api/auth/me')).toBe(false);
    expect(credential.test('/api/auth/check-user')).toBe(true);
    expect(location(conf, '/api/')).toContain('limit_req zone=api burst=20 nodelay;');
    expect(location(conf, '/.ory/')).not.toContain('zone=auth');
  });

  it('puts the AI endpoints under the ai limit, from config', () => {
    const custom = renderFrontendNginx(makeConfig({ frontend: { rate_limits: { api: '50r/s', auth: '10r/m', ai: '1r/s' } } }), ALL);
    expect(custom).toContain('limit_req_zone $binary_remote_addr zone=ai:10m rate=1r/s;');
    expect(custom).toContain('limit_req_zone $auth_limit_key zone=auth:10m rate=10r/m;');
    for (const path of ['/api/bee/', '/api/external-ai/', '/api/llm/']) expect(location(custom, path)).toContain('limit_req zone=ai burst=10 nodelay;');
  });

  it('sends /api/bee/ to the app when the profile runs no chatbot, and leaves Mailpit out when it does not run', () => {
    const bare = renderFrontendNginx(makeConfig(), { knowledge: false, chatbot: false, mailpit: false });
    expect(location(bare, '/api/bee/')).toContain('proxy_pass https://$app_upstream;');
    expect(location(bare, '/mailpit/')).toBeUndefined();
    expect(location(bare, '/api/knowledge/')).toBeUndefined();
  });
});

describe('frontend env.js', () => {
  it('holds the keys the image entrypoint writes, with the stack URLs, as JSON', () => {
    const js = renderFrontendEnvJs(makeConfig({ hostname: 'sting.example.com', ports: { frontend: 8443 } }), ALL);
    const env = JSON.parse(/window\.env = (\{[\s\S]*\});/.exec(js)![1]!) as Record<string, string>;
    expect(env).toEqual({
      REACT_APP_API_URL: 'https://sting.example.com:8443/api',
      REACT_APP_KRATOS_PUBLIC_URL: 'https://sting.example.com:8443/.ory',
      REACT_APP_MAILSLURPER_URL: 'https://sting.example.com:8443/mailpit',
      REACT_APP_MAILPIT_URL: 'https://sting.example.com:8443/mailpit',
      REACT_APP_CHATBOT_URL: '/api/bee',
      REACT_APP_LLM_GATEWAY_URL: '/api/llm',
      PUBLIC_URL: '/',
      NODE_ENV: 'production',
      DEBUG: 'false',
    });
  });
});

describe('frontend, kratos and mailpit in the plan', () => {
  const stack = render(makeConfig(), 'default');
  const svc = (name: string) => stack.plan.services.find((s) => s.name === name)!;

  it('runs the frontend on a read-only root, env.js mounted read-only, nginx started without the entrypoint scripts', () => {
    const frontend = svc('frontend');
    expect(frontend.readOnlyRootFs).toBe(true);
    expect(frontend.entrypoint).toEqual(['nginx']);
    expect(frontend.command).toEqual(['-g', 'daemon off;']);
    expect(frontend.mounts).toContainEqual({ type: 'bind', source: serviceConfigPath('frontend', 'env.js'), target: '/usr/share/nginx/html/env.js', readOnly: true });
    expect(frontend.mounts.every((m) => m.readOnly)).toBe(true);
    expect(stack.files.has(serviceConfigPath('frontend', 'env.js'))).toBe(true);
    expect(frontend.dependsOn.map((d) => d.service)).toContain('mailpit');
  });

  it('gives Kratos the certificates and an https health check, as uid 0 with no capability', () => {
    const kratos = svc('kratos');
    expect(kratos.mounts).toContainEqual({ type: 'bind', source: 'certs', target: '/etc/certs', readOnly: true });
    expect(kratos.health!.test.join(' ')).toContain('https://kratos-admin:4434/health/ready');
    expect(kratos.user).toBe('0:0');
    expect(kratos.capAdd).toEqual([]);
    expect(kratos.readOnlyRootFs).toBe(true);
  });

  it('serves Mailpit under /mailpit behind a password from Vault', () => {
    const env = stack.files.get(envFilePath('mailpit'))!;
    expect(env.mode).toBe(0o600);
    expect(env.content).toContain("MP_WEBROOT='/mailpit'");
    expect(env.content).toContain("MP_UI_AUTH='sting:fake-mailpit-ui'");
  });

  it('routes /mailpit/ only once Mailpit has its password', () => {
    const withoutPassword = render(makeConfig(), 'default', { secrets: mapSecretsProvider({}) });
    expect(withoutPassword.files.get(serviceConfigPath('frontend', 'nginx.conf'))!.content).not.toContain('/mailpit/');
    expect(withoutPassword.pendingSecrets.map((p) => p.id)).toContain('mailpit.ui');
    expect(stack.files.get(serviceConfigPath('frontend', 'nginx.conf'))!.content).toContain('location /mailpit/ {');
  });

  it('points the services at Kratos over https', () => {
    for (const service of ['app', 'knowledge']) {
      expect(stack.files.get(envFilePath(service))!.content).toContain("KRATOS_PUBLIC_URL='https://kratos:4433'");
    }
    expect(stack.files.get(envFilePath('app'))!.content).toContain("KRATOS_ADMIN_URL='https://kratos:4434'");
  });
});
