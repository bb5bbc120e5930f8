import { homedir } from 'node:os';
import type { Context } from '../context.js';
import { modelsDir } from '../layout.js';
import { formatBytes } from '../bytes.js';
import type { ProgressEvent } from '../models/progress.js';

/** The models directory for this run: STING_MODELS_DIR, else the platform default. */
export function resolveModelsDir(ctx: Context): string {
  return modelsDir(ctx.env, process.platform, homedir());
}

/** config.yml, validated (or as last validated, while neither it nor msting changed: config-cache.ts). */
export async function loadModelsConfig(ctx: Context) {
  const { loadValidatedConfig } = await import('../lifecycle/config-cache.js');
  const loaded = await loadValidatedConfig(ctx, undefined);
  if (loaded.warnings.length > 0) {
    const { formatProblem } = await import('../config/problems.js');
    for (const warning of loaded.warnings) ctx.out.warn(formatProblem(warning, ctx.configPath));
  }
  return loaded.config;
}

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Binds download and verify events to the output mode: NDJSON under --json, a redrawn line per
 * model on a terminal (stderr, throttled), and one plain line per finished file otherwise.
 */
export function progressRenderer(ctx: Context): { onProgress: (e: ProgressEvent) => void; stop: () => void } {
  const out = ctx.out;
  if (out.mode === 'json') return { onProgress: (e) => out.event({ ...e }), stop: () => undefined };
  const notable = (e: ProgressEvent): string | undefined => {
    switch (e.state) {
      case 'retrying':
      case 'restarting':
      case 'waiting':
      case 'corrupt':
      case 'missing':
        return `${e.model}${e.file ? ` ${e.file}` : ''}: ${e.state}${e.message ? ` (${e.message})` : ''}`;
      default:
        return undefined;
    }
  };
  if (out.mode === 'plain') {
    return {
      onProgress: (e) => {
        const note = notable(e);
        if (note) out.info(note);
        else if (e.file && (e.state === 'verified' || e.state === 'cached')) out.info(`${e.model} ${e.file}: ${e.state} (${formatBytes(e.total)})`);
        else if (!e.file && e.state === 'resolving') out.info(`${e.model}: resolving the revision`);
      },
      stop: () => undefined,
    };
  }
  // Terminal: one line per model, redrawn in place at most 8 times a second.
  const models = new Map<string, { bytes: number; total: number; rate: number; state: string }>();
  let drawn = 0;
  let last = 0;
  const draw = (force: boolean): void => {
    const now = Date.now();
    if (!force && now - last < 125) return;
    last = now;
    let text = drawn > 0 ? `\u001b[${drawn}A` : '';
    for (const [name, m] of models) {
      const pct = m.total > 0 ? ((m.bytes / m.total) * 100).toFixed(1) : '0.0';
      const eta = m.rate > 0 ? duration((m.total - m.bytes) / m.rate) : '--';
      const rate = m.rate > 0 ? `${formatBytes(m.rate)}/s` : '';
      const detail = m.state === 'downloading' ? `${pct}%  ${formatBytes(m.bytes)} / ${formatBytes(m.total)}  ${rate}  ETA ${eta}` : m.state;
      text += `\u001b[2K${out.paint('bold', name.padEnd(10))} ${detail}\n`;
    }
    drawn = models.size;
    out.stderr.write(text);
  };
  return {
    onProgress: (e) => {
      const note = notable(e);
      if (note) {
        // Permanent line above the live block.
        if (drawn > 0) out.stderr.write(`\u001b[${drawn}A\u001b[J`);
        drawn = 0;
        out.warn(note);
        draw(true);
        return;
      }
      if (e.file !== null) return;
      const m = models.get(e.model) ?? { bytes: 0, total: 0, rate: 0, state: e.state };
      m.state = e.state === 'done' ? 'done ✔' : e.state;
      if (e.total > 0 || e.state === 'done') {
        m.bytes = e.bytes;
        m.total = e.total;
      }
      m.rate = e.rate;
      models.set(e.model, m);
      draw(e.state !== 'downloading');
    },
    stop: () => draw(true),
  };
}
