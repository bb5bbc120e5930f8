import { describe, expect, it } from 'vitest';
import { hubHttpError, nextLink } from '../../../src/models/hub-client.js';

const model = { name: 'llama3', repo: 'meta-llama/Llama-3.1-8B', revision: 'main' };
const base = { model, tokenSource: undefined, endpoint: 'https://huggingface.co' };

describe('hub answers become one clear error', () => {
  it('a gated repo without a token says which model, where to accept the license and which scope', () => {
    const e = hubHttpError({ ...base, status: 401, headers: { 'x-error-code': 'GatedRepo', 'x-error-message': 'Access restricted' }, tokenSent: false });
    expect(e.code).toBe('HUB_GATED');
    expect(e.exitCode).toBe(5);
    expect(e.message).toContain('llama3 (meta-llama/Llama-3.1-8B) is gated');
    expect(e.hint).toContain('https://huggingface.co/meta-llama/Llama-3.1-8B');
    expect(e.hint).toContain('"read" scope');
    expect(e.details).toContain('hub: Access restricted');
  });
  it('a gated repo with a token that lacks access says so', () => {
    const e = hubHttpError({ ...base, status: 403, headers: { 'x-error-code': 'GatedRepo' }, tokenSent: true });
    expect(e.message).toContain('this token has no access');
    expect(e.hint).toContain('accept its license on https://huggingface.co/meta-llama/Llama-3.1-8B');
  });
  it('tells 401 with a token (rejected) from 401 without (private, gated or missing) and from 404', () => {
    const rejected = hubHttpError({ ...base, status: 401, headers: {}, tokenSent: true, tokenSource: 'HF_TOKEN' });
    expect(rejected.code).toBe('HUB_AUTH');
    expect(rejected.message).toContain('rejected the Hugging Face token');
    expect(rejected.hint).toContain('from HF_TOKEN');
    const anonymous = hubHttpError({ ...base, status: 401, headers: {}, tokenSent: false });
    expect(anonymous.message).toContain('private, gated, or does not exist');
    const missing = hubHttpError({ ...base, status: 404, headers: { 'x-error-code': 'RepoNotFound' }, tokenSent: false });
    expect(missing.code).toBe('HUB_NOT_FOUND');
    expect(missing.message).toContain('was not found on https://huggingface.co');
  });
  it('names a missing revision and a missing file', () => {
    expect(hubHttpError({ ...base, status: 404, headers: { 'x-error-code': 'RevisionNotFound' }, tokenSent: false }).message).toContain('revision "main"');
    expect(hubHttpError({ ...base, status: 404, headers: { 'x-error-code': 'EntryNotFound' }, path: 'model.gguf', tokenSent: false }).message).toContain('model.gguf');
  });
  it('reports how long a rate limit asks to wait', () => {
    const e = hubHttpError({ ...base, status: 429, headers: {}, retryAfterMs: 55_000, tokenSent: false });
    expect(e.code).toBe('HUB_RATE_LIMITED');
    expect(e.message).toContain('wait 55 s');
  });
});

describe('tree pagination', () => {
  it('follows rel="next" on the hub origin only', () => {
    const origin = 'https://huggingface.co';
    expect(nextLink('<https://huggingface.co/api/models/a/b/tree/c?cursor=2>; rel="next"', `${origin}/x`, origin)).toBe('https://huggingface.co/api/models/a/b/tree/c?cursor=2');
    expect(nextLink('</api/models/a/b/tree/c?cursor=3>; rel="next"', `${origin}/x`, origin)).toBe('https://huggingface.co/api/models/a/b/tree/c?cursor=3');
    expect(nextLink('<https://evil.example/next>; rel="next"', `${origin}/x`, origin)).toBeUndefined();
    expect(nextLink('<https://huggingface.co/p>; rel="prev"', `${origin}/x`, origin)).toBeUndefined();
    expect(nextLink(undefined, `${origin}/x`, origin)).toBeUndefined();
  });
});
