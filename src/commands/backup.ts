import { randomBytes } from 'node:crypto';
import { MSTING_VERSION } from '../package-info.js';
import { relative } from 'node:path';
import { loadConfig } from '../config/load.js';
import type { MstingConfig } from '../config/schema.js';
import type { Context } from '../context.js';
import { MstingError, usageError } from '../errors.js';
import { installLayout, type InstallLayout } from '../layout.js';
import type { Output } from '../ui/output.js';
import { DEFAULT_SCRYPT, SCRYPT_SALT_SIZE, keyIdOf, scryptKey, type KeySource } from '../backup/crypto-format.js';
import { createBackup, type BackupStage, type Encryption } from '../backup/create.js';
import { createDockerEngine } from '../backup/engine.js';
import { recoverInterrupted } from '../backup/interrupted.js';
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

export async function loadStack(ctx: Context): Promise<{ config: MstingConfig; layout: InstallLayout }> {
  const { config } = await loadConfig({ configPath: ctx.configPath, configExplicit: ctx.configExplicit, env: ctx.env });
  return { config, layout: installLayout(ctx.home) };
}

/** Read a line from the terminal without echoing it. */
export function promptHidden(ctx: Context): ((question: string) => Promise<string>) | undefined {
  if (!ctx.stdinIsTTY || ctx.out.json) return undefined;
  return (question) =>
    new Promise((resolve, reject) => {
      const stdin = process.stdin;
      ctx.out.stderr.write(question);
      let value = '';
      const wasRaw = stdin.isRaw;
      stdin.setRawMode?.(true);
      stdin.resume();
      const finish = (err?: Error): void => {
        stdin.off('data', onData);
        stdin.setRawMode?.(wasRaw);
        stdin.pause();
        ctx.out.stderr.write('\n');
        if (err) reject(err);
        else resolve(value);
      };
      const onData = (data: Buffer): void => {
        for (const ch of data.toString('utf8')) {
          if (ch === '\r' || ch === '\n') return finish();
          if (ch === '\u0003') return finish(new MstingError('INTERRUPTED', 'interrupted'));
          if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
          else value += ch;
        }
      };
      stdin.on('data', onData);
    });
}

/** Key sources for opening an archive; each is consulted only if the archive's header asks for it. */
export function readKeySources(ctx: Context, layout: InstallLayout, options: { passphraseFile?: string | undefined; keyFile?: string | undefined }): KeySource {
  const sources: PassphraseSources = { file: options.passphraseFile, env: ctx.env, prompt: promptHidden(ctx) };
  return {
    passphrase: () => obtainPassphrase(sources, false),
    keyFile: () => readKeyFile(options.keyFile ?? defaultKeyFilePath(layout.secretsDir)),
    passphraseOffered: passphraseOffered(sources),
  };
}

/** Byte counts and rate: a rewritten line on a terminal, NDJSON events under --json, nothing otherwise. */
export class Progress {
  private bytes = 0;
  private label = '';
  private readonly started = Date.now();
  private lastDraw = 0;
  private readonly out: Output;
  private readonly verb: string;

  constructor(out: Output, verb: string) {
    this.out = out;
    this.verb = verb;
  }

  stage(label: string, event: Record<string, unknown>): void {
    this.label = label;
    if (this.out.json) this.out.event({ event: 'stage', ...event, bytes: this.bytes });
    else if (!this.out.interactive) this.out.info(`${this.verb}: ${label}`);
    this.draw(true);
  }

  add = (n: number): void => {
    this.bytes += n;
    this.draw(false);
  };

  get total(): number {
    return this.bytes;
  }

  rate(): number {
    const s = (Date.now() - this.started) / 1000;
    return s > 0 ? this.bytes / s : 0;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < (this.out.json ? 1000 : 200)) return;
    this.lastDraw = now;
    if (this.out.json) {
      if (!force) this.out.event({ event: 'progress', bytes: this.bytes, rate: Math.round(this.rate()) });
      return;
    }
    if (!this.out.interactive) return;
    const line = `${this.verb}: ${this.label}  ${formatBytes(this.bytes)}  ${formatBytes(this.rate())}/s`;
    this.out.stderr.write(`\r\u001b[2K${line.slice(0, 120)}`);
  }

  done(): void {
    if (this.out.interactive) this.out.stderr.write('\r\u001b[2K');
  }
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
  const { config, layout } = await loadStack(ctx);
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
  const engine = createDockerEngine();
  // A backup killed in the middle left services paused and a helper holding a volume: put that right first.
  const recovered = await recoverInterrupted(engine, layout.home, (m) => ctx.out.warn(m));
  const progress = new Progress(ctx.out, 'backup');
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
