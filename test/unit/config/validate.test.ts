import { describe, expect, it } from 'vitest';
import { closestMatch } from '../../../src/config/suggest.js';
import type { ConfigRule } from '../../../src/config/rules.js';
import { validateConfigText } from '../../../src/config/validate.js';
import type { ConfigProblem } from '../../../src/config/problems.js';

/** Problems as `line:column path message` strings, easy to read in a failing diff. */
function brief(problems: ConfigProblem[]): string[] {
  return problems.map((p) => `${p.line ?? '-'}:${p.column ?? '-'} ${p.path} ${p.message}${p.hint ? ` | ${p.hint}` : ''}`);
}

function only(text: string, env: NodeJS.ProcessEnv = {}) {
  const result = validateConfigText(text, { env });
  expect(result.config).toBeNull();
  return result.errors;
}

describe('YAML errors', () => {
  it('reports a syntax error with its line and column', () => {
    const errors = only('app:\n  env: production\n  debug: [true\n');
    expect(errors).toHaveLength(1);
    // At the unclosed `[`, not on the empty line after the file's last newline.
    expect(errors[0]).toMatchObject({ line: 3, column: 10, source: 'file' });
  });

  it('reports bad indentation where it is', () => {
    expect(brief(only('vault:\n  shares: 5\n threshold: 3\n'))).toEqual(['3:1  all mapping items must start at the same column']);
    expect(brief(only('vault:\n\tshares: 5\n'))).toEqual(['2:1  tabs are not allowed as indentation']);
  });

  it('reports a duplicate key at the second occurrence', () => {
    const errors = only('ports:\n  app: 5050\n  app: 5051\n');
    expect(brief(errors)).toEqual(['3:3  duplicate key: map keys must be unique | each key may appear once in a mapping; remove or merge the repeated one']);
  });
});

describe('schema errors', () => {
  it('names the key path, its line and column, what was expected and what was written', () => {
    const errors = only('stop_timeout: soon\nports:\n  app: 70000\n  grafana: 0\napp:\n  env: prod\n');
    expect(brief(errors)).toEqual([
      '1:15 stop_timeout expected a number, got "soon"',
      '3:8 ports.app expected a port from 1 to 65535, got 70000',
      '4:12 ports.grafana expected a port from 1 to 65535, got 0',
      '6:8 app.env expected one of production, development; got "prod" | did you mean "production"?',
    ]);
  });

  it('suggests the close key for an unknown one and points at the key', () => {
    const errors = only('vault:\n  shares: 5\n  treshold: 3\nhostnme: a.example\n');
    expect(brief(errors)).toEqual([
      '3:3 vault.treshold unknown key "treshold" | did you mean "threshold"?',
      '4:1 hostnme unknown key "hostnme" | did you mean "hostname"?',
    ]);
  });

  it('lists the allowed keys when nothing is close', () => {
    const errors = only('redis:\n  colour: blue\n');
    expect(errors[0]!.hint).toBe('allowed here: maxmemory, maxmemory_policy');
  });

  it('says how to fix a quoted number and a missing required key', () => {
    const errors = only('ports:\n  app: "5050"\nllm:\n  models:\n    - name: mine\n');
    expect(brief(errors)).toEqual([
      '2:8 ports.app expected a number, got "5050" | write the number without quotes',
      '5:7 llm.models.0.repo missing: a text value is required here',
    ]);
  });

  it('names both accepted forms of an address', () => {
    const errors = only('network:\n  bind_address: localhost\n');
    expect(brief(errors)).toEqual(['2:17 network.bind_address expected an IPv4 address or an IPv6 address, got "localhost"']);
  });

  it('reports a file that is not a mapping', () => {
    const errors = only('- app\n- db\n');
    expect(errors[0]).toMatchObject({ path: '', line: 1, column: 1 });
    expect(errors[0]!.message).toContain('expected a mapping');
  });
});

describe('cross-field rules', () => {
  it('reports two services on one host port, naming both keys', () => {
    const errors = only('ports:\n  app: 5050\n  grafana: 5050\n');
    expect(brief(errors)).toEqual(['3:12 ports.grafana host port 5050 is also used by ports.app | two services cannot publish one host port; change ports.grafana or ports.app']);
  });

  it('points at the written key when it clashes with a default', () => {
    // The frontend is the one port published by default.
    const errors = only('ports:\n  app: 3010\n');
    expect(errors[0]).toMatchObject({ path: 'ports.app', line: 2, column: 8 });
    expect(errors[0]!.message).toBe('host port 3010 is also used by ports.frontend (its default)');
  });

  it('reports the same model name twice and a model named like a stack service', () => {
    const text = 'llm:\n  models:\n    - name: phi3\n      repo: a/b\n    - name: phi3\n      repo: a/c\n    - name: redis\n      repo: a/d\n';
    expect(brief(only(text))).toEqual([
      '5:13 llm.models.1.name model name "phi3" is already used by llm.models.0 | each model runs as its own service, so names must be unique',
      '7:13 llm.models.2.name model name "redis" is the name of a stack service | model services share the compose namespace with the stack; pick another name',
    ]);
  });

  it('makes a disabled default model an error only when the profile runs the LLM gateway', () => {
    const text = 'llm:\n  default_model: zephyr\n';
    const quiet = validateConfigText(text);
    expect(quiet.errors).toEqual([]);
    expect(brief(quiet.warnings)).toEqual([
      '2:18 llm.default_model model "zephyr" is disabled (llm.models.2.enabled is false); it matters once a profile runs the LLM gateway (full) | run `msting config set llm.models.2.enabled true` or choose an enabled model',
    ]);
    const full = validateConfigText(`profile: full\n${text}`);
    expect(full.errors[0]).toMatchObject({ path: 'llm.default_model', line: 3, column: 18 });
    expect(full.errors[0]!.message).toContain('profile "full" runs the LLM gateway');
    // --profile full on the command line counts too.
    expect(validateConfigText(text, { profile: 'full' }).errors).toHaveLength(1);
  });

  it('suggests a model for a misspelt default model', () => {
    const result = validateConfigText('profile: full\nllm:\n  default_model: phi-3\n');
    expect(result.errors[0]!.hint).toBe('did you mean "phi3"?');
  });

  it('checks custom profiles: unknown services, disabled models, built-in names', () => {
    const text = 'profiles:\n  chat:\n    services: [chatbot, grafna, zephyr]\n  full:\n    services: []\n';
    expect(brief(only(text))).toEqual([
      '3:25 profiles.chat.services.1 unknown service "grafna" | did you mean "grafana"?',
      '3:33 profiles.chat.services.2 model "zephyr" is disabled (llm.models.2.enabled is false) | enable it with `msting config set llm.models.2.enabled true` or remove it from the profile',
      '4:3 profiles.full "full" is a built-in profile and cannot be redefined | give the custom profile another name and set `extends` to build on it',
    ]);
  });

  it('reports a profile that names no profile, and accepts a custom one', () => {
    expect(brief(only('profile: observabilty\n'))).toEqual(['1:10 profile unknown profile "observabilty" | did you mean "observability"?']);
    expect(validateConfigText('profile: chat\nprofiles:\n  chat:\n    services: [chatbot]\n').errors).toEqual([]);
  });

  it('refuses a vault threshold above the shares and warns about a single-share vault', () => {
    expect(brief(only('vault:\n  shares: 2\n  threshold: 3\n'))).toEqual([
      '3:14 vault.threshold threshold 3 is more than the 2 shares created, so Vault could never be unsealed | set vault.threshold to at most vault.shares',
    ]);
    const single = validateConfigText('vault:\n  shares: 1\n  threshold: 1\n');
    expect(single.errors).toEqual([]);
    expect(single.warnings[0]).toMatchObject({ path: 'vault.threshold', line: 3, column: 14, message: 'one unseal share and threshold 1: a single key opens Vault' });
  });

  it('reports image and resource keys that name no service, with did-you-mean', () => {
    const text = 'images:\n  overrides:\n    ap: registry.local/app:1\n  digests:\n    phi3: sha256:' + 'a'.repeat(64) + '\nresources:\n  knowlege:\n    memory: 2g\n';
    expect(brief(only(text))).toEqual([
      '3:5 images.overrides.ap "ap" names no service | did you mean "app"?',
      '7:3 resources.knowlege "knowlege" names no service | did you mean "knowledge"?',
    ]);
  });

  it('refuses sign-in settings nobody could use', () => {
    const errors = only('auth:\n  methods:\n    code: false\n    webauthn: false\n    password: true\n    totp: false\n');
    expect(errors[0]).toMatchObject({ path: 'auth.methods.password', line: 5, column: 15 });
  });
});

describe('one report for everything', () => {
  it('lists YAML-level schema errors and cross-field problems together, in file order', () => {
    const text = [
      'profile: ful', // 1: unknown profile
      'ports:',
      '  app: 70000', // 3: out of range
      '  grafana: 3010', // 4: clashes with the frontend's default
      'vault:',
      '  shares: 2',
      '  threshold: 3', // 7: threshold > shares
      '  mode: prod', // 8: enum
      'images:',
      '  overrides:',
      '    frontnd: x/y:1', // 11: no such service
      'llm:',
      '  models:',
      '    - name: phi3',
      '      repo: a/b',
      '      enabld: true', // 16: unknown key in a list item
      '    - name: phi3', // 17: duplicate model
      '      repo: a/c',
      '',
    ].join('\n');
    const errors = only(text);
    expect(errors.map((e) => `${e.line}:${e.column} ${e.path}`)).toEqual([
      '1:10 profile',
      '3:8 ports.app',
      '4:12 ports.grafana',
      '7:14 vault.threshold',
      '8:9 vault.mode',
      '11:5 images.overrides.frontnd',
      '16:7 llm.models.0.enabld',
      '17:13 llm.models.1.name',
    ]);
  });
});

describe('environment overrides', () => {
  it('applies MSTING_PROFILE, MSTING_REGISTRY and MSTING_VERSION over the file', () => {
    const result = validateConfigText('profile: default\nimages:\n  version: "1.0"\n', {
      env: { MSTING_PROFILE: 'full', MSTING_REGISTRY: 'registry.local:5000/sting', MSTING_VERSION: '1.2.3' },
    });
    expect(result.errors).toEqual([]);
    expect(result.config?.profile).toBe('full');
    expect(result.config?.images).toMatchObject({ registry: 'registry.local:5000/sting', version: '1.2.3' });
  });

  it('ignores empty variables', () => {
    expect(validateConfigText('', { env: { MSTING_PROFILE: '' } }).config?.profile).toBe('default');
  });

  it('reports an invalid override naming the variable, not a line of the file', () => {
    const errors = only('images:\n  version: "1.0"\n', { MSTING_VERSION: 'not a tag', MSTING_PROFILE: 'fulll' });
    expect(errors.map((e) => [e.source, e.path, e.line, e.hint]).sort()).toEqual([
      ['MSTING_PROFILE', 'profile', null, 'did you mean "full"?'],
      ['MSTING_VERSION', 'images.version', null, null],
    ]);
  });
});

describe('vault-refs', () => {
  it('accepts a vault-ref in a text field and keeps it as written', () => {
    const result = validateConfigText('mail:\n  from_address: vault-ref:mail/sender#address\n  smtp:\n    host: vault-ref:mail/smtp#host\n');
    expect(result.errors).toEqual([]);
    expect(result.config?.mail.smtp.host).toBe('vault-ref:mail/smtp#host');
  });

  it('says where vault-refs are allowed when one is written elsewhere', () => {
    expect(brief(only('hostname: vault-ref:net/host#name\nstop_timeout: vault-ref:x#y\n'))).toEqual([
      '1:11 hostname expected a host name such as sting.example.com, got "vault-ref:net/host#name" | a vault-ref is allowed only in mail.from_address, mail.from_name, mail.smtp.host, mail.smtp.username, images.registry and images.overrides',
      '2:15 stop_timeout expected a number, got "vault-ref:x#y" | a vault-ref is allowed only in mail.from_address, mail.from_name, mail.smtp.host, mail.smtp.username, images.registry and images.overrides',
    ]);
  });

  it('reports a malformed vault-ref', () => {
    expect(brief(only('mail:\n  smtp:\n    host: vault-ref:mail/smtp\n'))).toEqual([
      '3:11 mail.smtp.host malformed vault-ref "vault-ref:mail/smtp" | write it as vault-ref:PATH#KEY, for example vault-ref:mail/smtp#host',
    ]);
  });
});

describe('extra rules', () => {
  it('adds caller rules, positioned like the built-in ones', () => {
    const gpu: ConfigRule = (config) =>
      config.llm.device === 'cuda' ? [{ severity: 'error', path: ['llm', 'device'], message: 'no NVIDIA GPU found', hint: 'set llm.device to auto or cpu' }] : [];
    const result = validateConfigText('llm:\n  device: cuda\n', { extraRules: [gpu] });
    expect(brief(result.errors)).toEqual(['2:11 llm.device no NVIDIA GPU found | set llm.device to auto or cpu']);
  });
});

describe('did-you-mean', () => {
  it('suggests within two edits and never for unrelated short words', () => {
    expect(closestMatch('treshold', ['threshold', 'shares'])).toBe('threshold');
    expect(closestMatch('kratos_admin', ['kratos-admin', 'kratos'])).toBe('kratos-admin');
    expect(closestMatch('db', ['app', 'vault'])).toBeUndefined();
    expect(closestMatch('logging', ['loki', 'promtail'])).toBeUndefined();
    expect(closestMatch('prod', ['production', 'development'])).toBe('production');
  });
});
