import { resolve } from 'node:path';
import type { Context } from '../context.js';
import { createBackupEngine } from '../docker/backup-engine.js';
import { createDumpChecker } from '../backup/postgres.js';
import { resolveImage } from '../stack/plan.js';
import { recordVerification } from '../backup/store.js';
import { verifyArchive } from '../backup/verify.js';
import { loadBackupSetup, readKeySources } from '../backup/key-sources.js';
import { ByteProgress } from '../ui/byte-progress.js';
import { promptHidden } from '../ui/hidden-prompt.js';
import { formatBytes } from '../bytes.js';

export interface BackupVerifyOptions {
  file: string;
  passphraseFile?: string | undefined;
  keyFile?: string | undefined;
}

export async function run(options: BackupVerifyOptions, ctx: Context): Promise<number> {
  const { config, layout } = await loadBackupSetup(ctx);
  const file = resolve(options.file);
  const engine = createBackupEngine(ctx.env);
  const checker = await createDumpChecker(engine, config.project.name, resolveImage(config, 'db')).catch((err: Error) => {
    ctx.out.warn(`cannot run pg_restore --list: ${err.message}`);
    return undefined;
  });
  const progress = new ByteProgress(ctx.out, 'verify');
  progress.stage('reading the archive', { stage: 'verify', file });
  let report;
  try {
    report = await verifyArchive(file, readKeySources(ctx.env, layout, options, promptHidden(ctx)), checker, { signal: ctx.signal, onBytes: progress.add });
  } finally {
    progress.done();
    await checker?.dispose();
  }
  await recordVerification(file, { at: new Date().toISOString(), ok: report.ok, problems: report.problems.slice(0, 20) });
  if (ctx.out.json) {
    ctx.out.event({
      event: 'result',
      file,
      ok: report.ok,
      kind: report.kind ?? null,
      problems: report.problems,
      files: report.files,
      dumps: report.dumps,
      created: report.manifest?.created ?? null,
      postgres: report.manifest?.postgres.major ?? null,
    });
  } else if (report.ok) {
    ctx.out.success(
      `${file} is intact: ${report.kind}, ${report.files} files (${formatBytes(report.bytes)}), ${report.dumps.length} database dumps readable by pg_restore, made ${report.manifest?.created} by msting ${report.manifest?.msting.version}`,
    );
  } else {
    ctx.out.stderr.write(`${ctx.out.paint('red', 'error:')} ${file} failed verification\n`);
    for (const p of report.problems.slice(0, 50)) ctx.out.stderr.write(`  ${p}\n`);
    if (report.cryptoError?.hint) ctx.out.stderr.write(`${ctx.out.paint('cyan', 'hint:')} ${report.cryptoError.hint}\n`);
  }
  return report.ok ? 0 : 1;
}
