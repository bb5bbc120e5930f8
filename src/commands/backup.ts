import { randomBytes } from 'node:crypto';
import { MSTING_VERSION } from '../package-info.js';
import { relative } from 'node:path';
import type { Context } from '../context.js';
import { usageError } from '../errors.js';
import { ByteProgress } from '../ui/byte-progress.js';
import { promptHidden } from '../ui/hidden-prompt.js';
import { DEFAULT_SCRYPT, SCRYPT_SALT_SIZE, keyIdOf, scryptKey } from '../backup/crypto-format.js';
import { createBackup, type BackupStage, type Encryption } from '../backup/create.js';
import { createBackupEngine } from '../docker/backup-engine.js';
import { recoverInterrupted } from '../backup/interrupted.js';
import { loadBackupSetup } from '../backup/key-sources.js';
import { PASSPHRASE_ENV, defaultKeyFilePath, ensureKeyFile, keyIdHex, obtainPassphrase, passphraseOffered, readKeyFile, type PassphraseSources } from '../backup/keys.js';
import { pruneArchives, removeLeftovers } from '../backup/store.js';
import { formatBytes } from '../bytes.js';

export interface BackupCommandOptions {
  encrypt: boolean;
  output?: string | undefined;
  keep?: number | undefined;
  passphraseFile?: string | undefined;
  /** Ask for a passphrase on the terminal. */
  passphrase?: boolean | undefined;
  keyFile?: string | undefined;
  includeVaultKeys: boolean;
}

export function mstingVersion(): string {
  return MSTING_VERSION;
}

export function describeStage(s: BackupStage): [string, Record<string, unknown>] {
  switch (s.stage) {
    case 'plan':
      return ['planning', { stage: 'plan', databases: s.databases, volumes: s.volumes, skipped: s.skipped }];
    case 'database':
      return [s.name === 'globals' ? 'roles (pg_dumpall --globals-only)' : `database ${s.name}`, { stage: 'database', name: s.name }];
    case 'volume':
      return [`volume ${s.name}${s.paused.length ? ` (${s.paused.join(', ')} paused)` : ''}`, { stage: 'volume', name: s.name, quiesce: s.quiesce, paused: s.paused }];
    case 'files':
      return ['config files', { stage: 'files' }];
    case 'finish':
      return ['manifest', { stage: 'finish' }];
  }
}

export async function run(options: BackupCommandOptions, ctx: Context): Promise<number> {
  const { config, layout } = await loadBackupSetup(ctx);
  const outputDir = options.output ?? layout.backupsDir;
  const passSources: PassphraseSources = { file: options.passphraseFile, env: ctx.env, prompt: promptHidden(ctx) };
  const wantsPassphrase = Boolean(options.passphrase) || passphraseOffered(passSources);
  const encrypt = options.encrypt || wantsPassphrase || Boolean(options.keyFile);
  if (options.includeVaultKeys && !(encrypt && wantsPassphrase)) {
    throw usageError(
      '--include-vault-keys needs encryption with a passphrase',
      `the backup key file lives beside the Vault keys; add --encrypt and a passphrase (--passphrase, --passphrase-file FILE or ${PASSPHRASE_ENV})`,
    );
  }
  if (wantsPassphrase && options.keyFile) throw usageError('give either a passphrase or --key-file, not both');

  let encryption: Encryption | Promise<Encryption> = { kind: 'none' };
  let keyNote: { kind: 'none' | 'passphrase' | 'key-file'; location: string | null; id: string | null; created?: boolean } = { kind: 'none', location: null, id: null };
  if (encrypt && wantsPassphrase) {
    const passphrase = await obtainPassphrase(passSources, true);
    const salt = randomBytes(SCRYPT_SALT_SIZE);
    // scrypt runs on the thread pool while the backup looks at the stack; it is awaited when the archive starts.
    encryption = scryptKey(passphrase, salt, DEFAULT_SCRYPT).then((master): Encryption => ({ kind: 'key', master, kdf: { kind: 'scrypt', ...DEFAULT_SCRYPT, salt } }));
    encryption.catch(() => undefined);
    keyNote = { kind: 'passphrase', location: null, id: null };
  } else if (encrypt) {
    const path = options.keyFile ?? defaultKeyFilePath(layout.secretsDir);
    const { key, created } = options.keyFile ? { key: await readKeyFile(path), created: false } : await ensureKeyFile(path);
    encryption = { kind: 'key', master: key, kdf: { kind: 'key-file', keyId: keyIdOf(key) } };
    keyNote = { kind: 'key-file', location: path, id: keyIdHex(key), created };
  }

  await removeLeftovers(outputDir);
  const engine = createBackupEngine(ctx.env);
  // A backup killed in the middle left services paused and a helper holding a volume: put that right first.
  const recovered = await recoverInterrupted(engine, layout.home, (m) => ctx.out.warn(m));
  const progress = new ByteProgress(ctx.out, 'backup');
  const started = Date.now();
  const result = await createBackup(
    engine,
    {
      project: config.project.name,
      stack: { imagesVersion: config.images.version, imagesRegistry: config.images.registry, profile: config.profile },
      layout,
      outputDir,
      encryption,
      includeVaultKeys: options.includeVaultKeys,
      mstingVersion: mstingVersion(),
      signal: ctx.signal,
    },
    {
      onStage: (s) => progress.stage(...describeStage(s)),
      onBytes: progress.add,
      onWarning: (m) => ctx.out.warn(m),
    },
  ).finally(() => progress.done());
  const pruned = options.keep ? await pruneArchives(outputDir, config.project.name, options.keep) : [];
  const seconds = (Date.now() - started) / 1000;

  if (ctx.out.json) {
    ctx.out.event({
      event: 'result',
      path: result.path,
      size: result.size,
      plainBytes: result.plainBytes,
      encrypted: result.encrypted,
      key: keyNote,
      databases: result.manifest.databases.map((d) => d.name),
      volumes: result.manifest.volumes.map((v) => ({ name: v.name, files: v.files, bytes: v.bytes, quiesce: v.quiesce })),
      includesVaultKeys: result.manifest.includesVaultKeys,
      pruned,
      recovered,
      seconds: Math.round(seconds * 10) / 10,
    });
    return 0;
  }
  ctx.out.success(
    `backup written: ${result.path} (${formatBytes(result.size)}, ${result.manifest.databases.length} databases, ${result.manifest.volumes.length} volumes, ${formatBytes(progress.rate())}/s)`,
  );
  if (keyNote.kind === 'key-file') {
    if (keyNote.created) ctx.out.info(`created the backup key ${keyNote.location} (mode 0600)`);
    ctx.out.info(
      `encrypted with the backup key ${keyNote.location} (key id ${keyNote.id}). Keep a copy of that file away from this host: without it this archive cannot be opened.`,
    );
  } else if (keyNote.kind === 'passphrase') {
    ctx.out.info('encrypted with your passphrase; msting does not keep it. Without it this archive cannot be opened.');
  } else {
    ctx.out.warn('the archive is not encrypted: it holds every database and Vault\'s storage; use --encrypt for copies that leave this host');
  }
  if (result.manifest.includesVaultKeys) ctx.out.info('Vault\'s unseal material is inside this archive (encrypted with your passphrase).');
  else ctx.out.info(`Vault's unseal shares are not in the archive: they stay in ${layout.secretsDir}; keep a copy of them elsewhere.`);
  for (const p of pruned) ctx.out.info(`removed old backup ${relative(process.cwd(), p) || p}`);
  ctx.out.print(result.path);
  return 0;
}
