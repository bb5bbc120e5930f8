import { describe, expect, it } from 'vitest';
import { SECRET_SPECS } from '../../../src/stack/secrets.js';
import { gpuRecommendation, makeConfig, render, snapshotText } from './fixtures.js';

describe('rendered stack snapshots', () => {
  for (const profile of ['default', 'observability', 'full']) {
    it(`profile ${profile}`, async () => {
      const stack = render(makeConfig(), profile);
      expect(stack.pendingSecrets).toEqual([]);
      await expect(snapshotText(stack)).toMatchFileSnapshot(`__snapshots__/${profile}.txt`);
    });
  }

  it('full profile on an NVIDIA GPU, with a public host name and two replicas', async () => {
    const config = makeConfig({
      hostname: 'sting.example.com',
      ports: { frontend: 443 },
      llm: {
        models: [
          { name: 'phi3', repo: 'microsoft/Phi-3-medium-128k-instruct', replicas: 2 },
          { name: 'zephyr', repo: 'HuggingFaceH4/zephyr-7b-beta', enabled: false },
        ],
      },
    });
    const stack = render(config, 'full', { recommendation: gpuRecommendation(config) });
    await expect(snapshotText(stack)).toMatchFileSnapshot('__snapshots__/full-gpu.txt');
  });

  it('is deterministic: the same input renders the same bytes', () => {
    const a = snapshotText(render(makeConfig(), 'full'));
    const b = snapshotText(render(makeConfig(), 'full'));
    expect(a).toBe(b);
  });

  it('puts secret values only in env files, which are 0600', () => {
    const stack = render(makeConfig(), 'full');
    const values = SECRET_SPECS.map((s) => `fake-${s.id.replaceAll('.', '-')}`);
    for (const [path, file] of stack.files) {
      const holds = values.filter((v) => file.content.includes(v));
      if (path.startsWith('env/')) expect(file.mode).toBe(0o600);
      else expect(holds, path).toEqual([]);
    }
  });
});
