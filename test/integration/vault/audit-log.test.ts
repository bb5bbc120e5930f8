import { afterAll, beforeAll, expect, it } from 'vitest';
import { createContainerExec } from '../../../src/docker/container-exec.js';
import { createDockerEngine } from '../../../src/docker/engine.js';
import { vaultAuditEntry } from '../../../src/doctor/bundle.js';
import { rotateVaultAuditLog, runningVaultContainer, type VaultContainer } from '../../../src/vault/audit-log.js';
import { describeDocker, docker, removeProject, testImages, uniqueProject } from '../../support/docker.js';

/**
 * Rotation on a real engine: a busybox container stands in for vault (the compose labels, the
 * audit log on a volume at /vault/logs) and does what Vault's file device does on SIGHUP: it
 * reopens audit.log, which creates it afresh, and writes a line there.
 */

const project = uniqueProject('msting-audit');
const MiB = 1024 * 1024;

const STAND_IN = [
  'exec 3>>/vault/logs/audit.log',
  `trap 'exec 3>>/vault/logs/audit.log; echo "{\\"reopened\\":true}" >&3' HUP`,
  'touch /tmp/ready',
  'while :; do sleep 0.1; done',
].join('\n');

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

let vault: VaultContainer;

describeDocker("rotating Vault's audit log in a running container", () => {
  beforeAll(async () => {
    const volume = `${project}_vault_logs`;
    await docker(['volume', 'create', '--label', `com.docker.compose.project=${project}`, volume]);
    // 2 MiB of audit log, and an older rotated file.
    await docker(['run', '--rm', '-v', `${volume}:/vault/logs`, '--entrypoint', 'sh', testImages().busybox, '-c',
      `dd if=/dev/zero of=/vault/logs/audit.log bs=1048576 count=2 2>/dev/null && echo older > /vault/logs/audit.log.1`]);
    await docker(['run', '-d', '--name', `${project}-vault-1`, '--label', `com.docker.compose.project=${project}`, '--label', 'com.docker.compose.service=vault',
      '-v', `${volume}:/vault/logs`, '--entrypoint', 'sh', testImages().busybox, '-c', STAND_IN]);
    const engine = createDockerEngine(process.env);
    const exec = createContainerExec(process.env);
    vault = await until('the stand-in vault container', async () => runningVaultContainer(await engine.listContainers(project), engine, exec) ?? undefined);
    await until('the stand-in to handle SIGHUP', async () => ((await vault.exec(['test', '-e', '/tmp/ready'])).exitCode === 0 ? true : undefined));
  }, 60_000);

  afterAll(async () => {
    await removeProject(project);
  }, 60_000);

  it('shifts the files past the threshold and makes the process reopen a fresh audit.log; below it, leaves them alone', async () => {
    const r = await rotateVaultAuditLog(vault, { thresholdBytes: MiB });
    expect(r).toMatchObject({ rotated: true, sizeBytes: 2 * MiB });

    const size = async (f: string) => (await vault.exec(['stat', '-c', '%s', `/vault/logs/${f}`])).output.trim();
    expect(await size('audit.log.1')).toBe(String(2 * MiB));
    expect((await vault.exec(['cat', '/vault/logs/audit.log.2'])).output).toBe('older\n');
    expect((await vault.exec(['test', '-e', '/vault/logs/audit.log.3'])).exitCode).not.toBe(0);
    // The signal reached the process: it opened a new audit.log and writes there.
    const fresh = await until('a fresh audit.log', async () => {
      const cat = await vault.exec(['cat', '/vault/logs/audit.log']);
      return cat.exitCode === 0 && cat.output.includes('reopened') ? cat.output : undefined;
    });
    expect(fresh).toBe('{"reopened":true}\n');

    // The fresh file is small: a second run moves nothing.
    expect(await rotateVaultAuditLog(vault, { thresholdBytes: MiB })).toMatchObject({ rotated: false });
    expect(await size('audit.log.1')).toBe(String(2 * MiB));

    // And the support bundle reads it from the same container.
    expect((await vaultAuditEntry(vault)).content).toBe('{"reopened":true}\n');
  }, 60_000);
});
