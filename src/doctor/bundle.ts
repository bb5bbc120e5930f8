import { createGzip } from 'node:zlib';
import { createWriteStream } from 'node:fs';
import { readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pack } from 'tar-stream';
import { readVaultAuditTail, type VaultContainer } from '../vault/audit-log.js';
import type { Redactor } from './redact.js';

/**
 * The support bundle: a tar.gz of what helps someone else diagnose an install (doctor's report,
 * config.yml, the rendered compose and config files, env files, state.json, the msting log and
 * the services' recent logs, the tail of Vault's audit log), every file passed through the redactor. Secrets directories and
 * keys are never read into it.
 */

export interface BundleEntry {
  name: string;
  content: string;
}

/** Install-relative files the bundle carries, when present. Keys and secrets/ never. */
export async function bundleFiles(home: string): Promise<string[]> {
  const out: string[] = [];
  const add = async (rel: string): Promise<void> => {
    const info = await stat(join(home, rel)).catch(() => undefined);
    if (!info) return;
    if (info.isDirectory()) {
      for (const name of await readdir(join(home, rel))) await add(`${rel}/${name}`);
    } else if (info.isFile() && !/\.(key|pem)$/.test(rel) && info.size < 5_000_000) out.push(rel);
  };
  for (const rel of ['conf/config.yml', 'state.json', 'compose', 'env', 'logs/msting.log']) await add(rel);
  return out.sort();
}

/**
 * `vault-audit.log`: the last lines of Vault's audit log from the running vault container, or a
 * note saying why there are none. Vault has hashed the values in it; the bundle's redactor still
 * passes over it, as a second net.
 */
export async function vaultAuditEntry(vault: VaultContainer | null): Promise<BundleEntry> {
  const tail = await readVaultAuditTail(vault);
  return { name: 'vault-audit.log', content: tail.ok ? tail.text : `${tail.note}\n` };
}

export async function writeBundle(path: string, home: string, extra: BundleEntry[], redactor: Redactor): Promise<{ path: string; files: string[] }> {
  const tar = pack();
  const tmp = `${path}.partial`;
  const names: string[] = [];
  const done = pipeline(tar, createGzip(), createWriteStream(tmp, { mode: 0o600 }));
  const add = (name: string, content: string): void => {
    names.push(name);
    tar.entry({ name: `msting-support/${name}`, mode: 0o644, mtime: new Date() }, redactor.text(content));
  };
  try {
    for (const rel of await bundleFiles(home)) add(rel, await readFile(join(home, rel), 'utf8'));
    for (const e of extra) add(e.name, e.content);
    tar.finalize();
    await done;
    await rename(tmp, path);
  } catch (err) {
    tar.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
  return { path, files: names.map((n) => relative('.', n)) };
}
