import { mkdtempSync, readdirSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/commands/hardware.js';
import type { Context } from '../../../src/context.js';
import { createOutput } from '../../../src/ui/output.js';
import { fakeDeps, fixture, linuxServer, ok } from './fake-machine.js';

function capture(json: boolean, home: string, configPath = join(home, 'conf', 'config.yml')) {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += String(d)));
  stderr.on('data', (d) => (err += String(d)));
  const ctx: Context = {
    home,
    configPath,
    configExplicit: false,
    out: createOutput({ json, color: false, verbose: false }, { stdout, stderr }, {}),
    yes: false,
    verbose: false,
    env: {},
    stdinIsTTY: false,
    signal: new AbortController().signal,
  };
  return { ctx, stdout: () => out, stderr: () => err };
}

const h100 = () => fakeDeps(linuxServer({ commands: { 'nvidia-smi': ok(fixture('nvidia-smi-h100.csv')), docker: ok(fixture('docker-info-nvidia-runtime.json')) } }));

describe('msting hardware', () => {
  it('--json: one document with stable keys, no config file needed, nothing written', async () => {
    const home = mkdtempSync(join(tmpdir(), 'msting-hw-'));
    const c = capture(true, home);
    const code = await run({}, c.ctx, h100());
    expect(code).toBe(0);
    const doc = JSON.parse(c.stdout());
    expect(Object.keys(doc)).toEqual(['version', 'os', 'cpu', 'memory', 'gpus', 'container', 'disks', 'problems', 'recommendation', 'config', 'configProblems']);
    expect(doc.version).toBe(1);
    expect(doc.gpus[0]).toEqual({
      vendor: 'nvidia',
      index: 0,
      name: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-6e1b2f0c-5d1a-8f3e-2c44-9a0b7d3e5f11',
      memoryTotalMiB: 81559,
      memoryFreeMiB: 81003,
      computeCapability: '9.0',
      architecture: null,
      driverVersion: '550.54.15',
      unifiedMemory: false,
      source: 'nvidia-smi',
    });
    expect(doc.container).toMatchObject({ dockerReachable: true, nvidiaRuntime: true, gpuAccess: 'nvidia', error: null });
    expect(doc.recommendation).toMatchObject({ device: 'cuda', precision: 'bf16', gpuReservation: { driver: 'nvidia' } });
    expect(Object.keys(doc.recommendation.models[0])).toEqual(['name', 'enabled', 'fits', 'parametersB', 'sizeSource', 'quantization', 'requiredBytes', 'memoryLimit', 'reason']);
    expect(doc.config).toEqual({ path: join(home, 'conf', 'config.yml'), exists: false });
    expect(c.stderr()).toBe('');
    expect(readdirSync(home)).toEqual([]);
  });

  it('human output fits one screen and names the decision', async () => {
    const c = capture(false, mkdtempSync(join(tmpdir(), 'msting-hw-')));
    expect(await run({}, c.ctx, h100())).toBe(0);
    const lines = c.stdout().trimEnd().split('\n');
    expect(lines.length).toBeLessThanOrEqual(30);
    expect(lines[0]).toMatch(/^CPU\s+AMD EPYC 9454, 48 cores \/ 96 threads, x64; AVX2 AVX-512/);
    expect(c.stdout()).toMatch(/GPU 0\s+NVIDIA H100 80GB HBM3: 79\.6 GiB \(79\.1 GiB free\), compute 9\.0, driver 550\.54\.15/);
    expect(c.stdout()).toContain('containers get the NVIDIA GPU through the nvidia runtime');
    expect(c.stdout()).toContain('Recommendation: cuda, bf16');
    expect(c.stdout()).toMatch(/phi3\s+fits\s+none\s+limit 8g/);
  });

  it('a forced device the machine cannot honour: report shown, problem with its line, exit 3', async () => {
    const home = mkdtempSync(join(tmpdir(), 'msting-hw-'));
    mkdirSync(join(home, 'conf'));
    writeFileSync(join(home, 'conf', 'config.yml'), 'llm:\n  device: cuda\n');
    const c = capture(true, home);
    const code = await run({}, c.ctx, fakeDeps(linuxServer()));
    expect(code).toBe(3);
    const doc = JSON.parse(c.stdout());
    expect(doc.configProblems).toEqual([
      expect.objectContaining({ severity: 'error', path: 'llm.device', line: 2, message: expect.stringContaining('no NVIDIA GPU') }),
    ]);
    expect(doc.recommendation.device).toBe('cpu');
  });

  it('an invalid config.yml stops with CONFIG_INVALID like every command', async () => {
    const home = mkdtempSync(join(tmpdir(), 'msting-hw-'));
    mkdirSync(join(home, 'conf'));
    writeFileSync(join(home, 'conf', 'config.yml'), 'llm:\n  device: tpu\n');
    const c = capture(false, home);
    await expect(run({}, c.ctx, fakeDeps(linuxServer()))).rejects.toMatchObject({ code: 'CONFIG_INVALID', exitCode: 3 });
  });

  it('Docker unreachable: said on the Docker line, recommendation for CPU with that reason', async () => {
    const c = capture(false, mkdtempSync(join(tmpdir(), 'msting-hw-')));
    const deps = fakeDeps({ ...linuxServer(), commands: { 'nvidia-smi': ok(fixture('nvidia-smi-rtx3060.csv')) } });
    expect(await run({}, c.ctx, deps)).toBe(0);
    expect(c.stdout()).toMatch(/Docker\s+not reachable: the docker command is not installed/);
    expect(c.stdout()).toContain('Recommendation: cpu, int8');
    expect(c.stdout()).toContain('but Docker is not reachable (the docker command is not installed)');
  });
});
