import type { Context } from '../context.js';
import { listArchives } from '../backup/store.js';
import { formatBytes } from '../bytes.js';
import { loadBackupSetup } from '../backup/key-sources.js';

export interface BackupListOptions {
  dir?: string | undefined;
}

export async function run(options: BackupListOptions, ctx: Context): Promise<number> {
  const dir = options.dir ?? (await loadBackupSetup(ctx)).layout.backupsDir;
  const archives = await listArchives(dir);
  if (ctx.out.json) {
    ctx.out.result({ dir, archives });
    return 0;
  }
  if (archives.length === 0) {
    ctx.out.info(`no backups in ${dir} (create one with msting backup)`);
    return 0;
  }
  const rows = archives.map((a) => [
    a.name,
    a.created.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    formatBytes(a.size),
    a.encrypted ? 'encrypted' : 'plain',
    a.lastVerified ? `${a.lastVerified.ok ? 'ok' : 'FAILED'} ${a.lastVerified.at.replace('T', ' ').replace(/\.\d+Z$/, 'Z')}` : 'never',
  ]);
  const head = ['ARCHIVE', 'CREATED', 'SIZE', 'ENCRYPTION', 'LAST VERIFIED'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]): string => r.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  ctx.out.print([fmt(head), ...rows.map(fmt)].join('\n'));
  return 0;
}
