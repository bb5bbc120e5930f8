import { describe, expect, it } from 'vitest';
import { findVaultRefs, resolveVaultRefs } from '../../../src/config/vault-refs.js';
import { validateConfigText } from '../../../src/config/validate.js';
import { mapSecretsProvider } from '../../../src/stack/secrets.js';

const config = validateConfigText('mail:\n  smtp:\n    host: vault-ref:mail/smtp#host\n    username: vault-ref:mail/smtp#user\n').config!;

describe('resolveVaultRefs', () => {
  it('replaces the refs the provider knows and lists the rest', () => {
    const result = resolveVaultRefs(config, mapSecretsProvider({}, { 'mail/smtp#host': 'smtp.example.com' }));
    expect(result.config.mail.smtp.host).toBe('smtp.example.com');
    expect(result.config.mail.smtp.username).toBe('vault-ref:mail/smtp#user');
    expect(result.resolved).toEqual([{ key: 'mail.smtp.host', path: 'mail/smtp', field: 'host' }]);
    expect(result.unresolved).toEqual([{ key: 'mail.smtp.username', path: 'mail/smtp', field: 'user' }]);
    // The loaded config is left as it was.
    expect(config.mail.smtp.host).toBe('vault-ref:mail/smtp#host');
  });

  it('finds every ref', () => {
    expect(findVaultRefs(config).map((r) => r.key)).toEqual(['mail.smtp.host', 'mail.smtp.username']);
  });
});
