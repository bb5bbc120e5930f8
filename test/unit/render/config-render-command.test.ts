import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { run, type ConfigRenderDeps, type ConfigRenderJson } from '../../../src/commands/config-render.js';
import { createContext } from '../../../src/context.js';
import { NO_SECRETS } from '../../../src/stack/secrets.js';
import { FAKE_SECRETS, cpuRecommendation } from './fixtures.js';

let home: string;
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'msting-cmd-'));
});
afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { streams: { stdout, stderr }, text: () => ({ out, err }) };
}

const deps = (secrets = FAKE_SECRETS): ConfigRenderDeps => ({ secrets: async () => secrets, recommendation: async (config) => cpuRecommendation(config) });

describe('msting config render', () => {
  it('renders, then keeps env files holding secrets when Vault cannot be read', async () => {
    const first = capture();
    await run({ profile: 'full' }, createContext({ home, json: true, yes: true, verbose: false, color: false }, first.streams, {}), deps());
    const doc = JSON.parse(first.text().out) as ConfigRenderJson;
    expect(doc.pendingSecrets).toEqual([]);
    expect(doc.services).toContain('phi3');
    const appEnv = await readFile(join(home, 'env/app.env'), 'utf8');
    expect(appEnv).toContain('FLASK_SECRET_KEY=');

    const second = capture();
    await run({ profile: 'full' }, createContext({ home, json: false, yes: true, verbose: false, color: false }, second.streams, {}), deps(NO_SECRETS));
    const { out, err } = second.text();
    expect(out).toMatch(/rendered profile full \(19 services\)/);
    expect(err).toMatch(/kept env\/app\.env as it was/);
    expect(err).toMatch(/secrets pending .*run `msting vault init`/);
    expect(await readFile(join(home, 'env/app.env'), 'utf8')).toBe(appEnv);
    expect(err + out).not.toContain('fake-');
  });
});
