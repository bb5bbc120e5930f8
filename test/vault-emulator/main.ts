import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { join } from 'node:path';
import { VaultEmulator } from './server.js';

/**
 * Run the Vault emulator as a process, with the arguments the `vault` image takes, so a compose
 * file written for Vault runs it unchanged:
 *
 *   node main.js server                                      (reads /vault/config/*.json|*.hcl, like the image)
 *   node main.js server -config=/vault/config/vault.hcl     (storage "file" path, listener address)
 *   node main.js server -dev -dev-root-token-id=TOKEN       (in memory, unsealed, root token)
 *   node main.js --storage DIR --port 8200 [--host 0.0.0.0]
 *
 * Environment: VAULT_DEV_ROOT_TOKEN_ID, VAULT_DEV_LISTEN_ADDRESS. It prints one line
 * `listening on http://HOST:PORT` once it accepts connections, and stops on SIGTERM/SIGINT.
 *
 * VAULT_EMULATOR_HOLD_FILE: while that file exists, the emulator waits before it listens, as a
 * real Vault does for a while after its container starts. A test creates the file, restarts the
 * container, sees what msting reports for a Vault that runs but does not answer, and removes it.
 */

function option(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    for (const prefix of [`-${name}`, `--${name}`]) {
      if (arg === prefix) return args[i + 1];
      if (arg.startsWith(`${prefix}=`)) return arg.slice(prefix.length + 1);
    }
  }
  return undefined;
}

function flag(args: string[], name: string): boolean {
  return args.includes(`-${name}`) || args.includes(`--${name}`);
}

interface ServerConfig {
  storage?: string;
  address?: string;
}

/** Vault's JSON config form: storage.file.path and listener(s).tcp.address. */
function fromJson(text: string): ServerConfig {
  const doc = JSON.parse(text) as { storage?: { file?: { path?: string } }; listener?: unknown };
  const listeners = (Array.isArray(doc.listener) ? doc.listener : [doc.listener]) as Array<{ tcp?: { address?: string } } | undefined>;
  const address = listeners.map((l) => l?.tcp?.address).find(Boolean);
  const storage = doc.storage?.file?.path;
  return { ...(storage ? { storage } : {}), ...(address ? { address } : {}) };
}

/** A config file, or every .hcl/.json file of a directory (as `vault server -config=DIR` reads). */
function fromConfig(path: string): ServerConfig {
  const files = existsSync(path) && !path.match(/\.(hcl|json)$/)
    ? readdirSync(path).filter((f) => /\.(hcl|json)$/.test(f)).map((f) => join(path, f))
    : [path];
  return Object.assign({}, ...files.map((f) => (f.endsWith('.json') ? fromJson(readFileSync(f, 'utf8')) : fromHcl(f)))) as ServerConfig;
}

function fromHcl(file: string): ServerConfig {
  const text = readFileSync(file, 'utf8');
  const storage = /storage\s+"file"\s*\{[^}]*path\s*=\s*"([^"]+)"/.exec(text)?.[1];
  const address = /listener\s+"tcp"\s*\{[^}]*address\s*=\s*"([^"]+)"/.exec(text)?.[1];
  return { ...(storage ? { storage } : {}), ...(address ? { address } : {}) };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const dev = flag(args, 'dev');
  // Like the vault image: `server` with no -config reads /vault/config, and VAULT_LOCAL_CONFIG.
  const configFile = option(args, 'config') ?? (!dev && existsSync('/vault/config') ? '/vault/config' : undefined);
  const hcl: ServerConfig = {
    ...(configFile ? fromConfig(configFile) : {}),
    ...(process.env.VAULT_LOCAL_CONFIG ? fromJson(process.env.VAULT_LOCAL_CONFIG) : {}),
  };
  const listen =
    option(args, 'listen') ??
    (dev ? (option(args, 'dev-listen-address') ?? process.env.VAULT_DEV_LISTEN_ADDRESS) : undefined) ??
    hcl.address ??
    `${option(args, 'host') ?? '127.0.0.1'}:${option(args, 'port') ?? '8200'}`;
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon) || '127.0.0.1';
  const port = Number(listen.slice(colon + 1));
  const storageDir = option(args, 'storage') ?? hcl.storage;
  const devRootToken = option(args, 'dev-root-token-id') ?? process.env.VAULT_DEV_ROOT_TOKEN_ID;
  const emulator = new VaultEmulator({
    ...(dev ? { dev: true } : {}),
    ...(devRootToken ? { devRootToken } : {}),
    ...(!dev && storageDir ? { storageDir } : {}),
  });
  let listening = false;
  // Installed first: as PID 1 of its container, the process would otherwise ignore SIGTERM while it holds.
  const stop = (): void => {
    if (!listening) process.exit(0);
    void emulator.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  const hold = process.env.VAULT_EMULATOR_HOLD_FILE;
  if (hold && existsSync(hold)) {
    process.stdout.write(`holding until ${hold} is removed\n`);
    while (existsSync(hold)) await sleep(100);
  }
  const address = await emulator.listen(port, host);
  listening = true;
  process.stdout.write(`listening on ${address}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`vault emulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
