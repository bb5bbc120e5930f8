import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** What a run of the built CLI printed and how it ended. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'msting.js');

/**
 * The built `bin/msting.js` in an install directory, as a script would run it: no terminal, no
 * colour, no Vault address or token from the developer's shell, models under `work`.
 */
export function runInstalledCli(home: string, work: string, args: string[], onSpawn?: (child: ChildProcess) => void, env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, '--home', home, ...args], {
      env: { ...process.env, VAULT_ADDR: '', VAULT_TOKEN: '', NO_COLOR: '1', CI: '1', STING_MODELS_DIR: join(work, 'models'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolveRun({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    onSpawn?.(child);
  });
}
