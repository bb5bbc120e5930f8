import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progressRenderer } from '../../../src/ui/models-progress.js';
import type { Context } from '../../../src/context.js';
import type { ProgressEvent } from '../../../src/models/progress.js';
import { RateMeter } from '../../../src/models/progress.js';
import { createOutput } from '../../../src/ui/output.js';

function capture(json: boolean) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d: Buffer) => (out += d.toString()));
  stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ctx = { out: createOutput({ json, color: false, verbose: false }, { stdout, stderr }, {}) } as unknown as Context;
  return { ctx, read: () => ({ out, err }) };
}

const at = '2030-01-01T00:00:00.000Z';
const events: ProgressEvent[] = [
  { model: 'phi3', file: null, bytes: 0, total: 0, rate: 0, state: 'resolving', at },
  { model: 'phi3', file: 'model.safetensors', bytes: 5, total: 10, rate: 100, state: 'downloading', at },
  { model: 'phi3', file: 'model.safetensors', bytes: 5, total: 10, rate: 0, state: 'retrying', at, message: 'stalled at bytes 5-9' },
  { model: 'phi3', file: 'model.safetensors', bytes: 10, total: 10, rate: 0, state: 'verified', at },
];

describe('download progress per output mode', () => {
  it('--json: every event as one NDJSON line with the documented keys', () => {
    const { ctx, read } = capture(true);
    const r = progressRenderer(ctx);
    for (const e of events) r.onProgress(e);
    const lines = read().out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(4);
    expect(Object.keys(lines[1]!).sort()).toEqual(['at', 'bytes', 'file', 'model', 'rate', 'state', 'total']);
    expect(read().err).toBe('');
  });
  it('plain: a line per finished file and per problem, nothing on stdout', () => {
    const { ctx, read } = capture(false);
    const r = progressRenderer(ctx);
    for (const e of events) r.onProgress(e);
    const { out, err } = read();
    expect(out).toBe('');
    expect(err).toContain('phi3 model.safetensors: retrying (stalled at bytes 5-9)');
    expect(err).toContain('phi3 model.safetensors: verified (10 B)');
    expect(err).not.toContain('downloading');
  });
  it('measures a rate over a sliding window', () => {
    const m = new RateMeter(5000);
    m.add(0, 0);
    m.add(1000, 500);
    m.add(1000, 1000);
    expect(m.rate(1000)).toBe(2000);
  });
});
