import type { Context } from '../context.js';
import { formatBytes } from '../bytes.js';
import { inspectModel } from '../models/state.js';
import { isOffline } from '../models/token.js';
import { loadModelsConfig, resolveModelsDir } from '../models/load-config.js';

export type ModelsListOptions = Record<string, never>;

/**
 * `msting models list`: each configured model with its pin, size and state on disk. A model not
 * downloaded yet gets its size from the hub (read-only; skipped with HF_HUB_OFFLINE=1).
 */
export async function run(_options: ModelsListOptions, ctx: Context): Promise<number> {
  const config = await loadModelsConfig(ctx);
  const dir = resolveModelsDir(ctx);
  const rows = await Promise.all(
    config.llm.models.map(async (m) => {
      const local = await inspectModel(dir, m);
      // Not pinned yet: ask the hub how big it is (nothing is recorded; skipped offline).
      let remote: { size: number; commit: string } | undefined;
      if (local.size === null && !isOffline(ctx.env)) {
        try {
          // Loaded only here: the HTTP client and the hub library cost a list of pinned models
          // (or one offline) start-up time for nothing.
          const { remoteModelSize } = await import('../models/remote-size.js');
          remote = await remoteModelSize(m, ctx.env, ctx.signal);
        } catch (err) {
          ctx.out.debug(`${m.name}: size unknown: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      return { enabled: m.enabled, ...local, size: local.size ?? remote?.size ?? null, remoteCommit: remote?.commit ?? null };
    }),
  );
  if (ctx.out.json) {
    ctx.out.result({
      models_dir: dir,
      models: rows.map((r) => ({
        name: r.name,
        repo: r.repo,
        revision: r.revision,
        commit: r.commit,
        hub_commit: r.remoteCommit,
        enabled: r.enabled,
        size: r.size,
        bytes_on_disk: r.have,
        state: r.state,
        percent: r.percent,
        snapshot: r.snapshot,
      })),
    });
    return 0;
  }
  if (rows.length === 0) {
    ctx.out.print('no models in config.yml (llm.models is empty)');
    return 0;
  }
  const table = rows.map((r) => [
    r.name,
    r.repo,
    r.commit ? `${r.revision}@${r.commit.slice(0, 12)}` : r.revision,
    r.size === null ? '-' : formatBytes(r.size),
    r.state === 'partial' ? `partial ${r.percent}%` : r.state,
    r.enabled ? 'yes' : 'no',
  ]);
  const head = ['NAME', 'REPO', 'REVISION', 'SIZE', 'STATE', 'ENABLED'];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  ctx.out.print([line(head), ...table.map(line)].join('\n'));
  ctx.out.info(`models directory: ${dir}${rows.some((r) => r.size === null) ? ' (size "-": the hub could not be asked; run with --verbose for why)' : ''}`);
  return 0;
}
