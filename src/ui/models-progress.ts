import type { Context } from '../context.js';
import { formatBytes } from '../bytes.js';
import type { ProgressEvent } from '../models/progress.js';
import { KeyedLines } from '../ui/progress.js';

function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * Binds download and verify events to the output mode: NDJSON under --json, a redrawn line per
 * model on a terminal (stderr), and one plain line per finished file otherwise.
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
  // Terminal: one line per model, redrawn in place; problems print above the block.
  const models = new Map<string, { bytes: number; total: number; rate: number; state: string }>();
  const block = new KeyedLines(out, 'models');
  const line = (name: string, m: { bytes: number; total: number; rate: number; state: string }): string => {
    const pct = m.total > 0 ? ((m.bytes / m.total) * 100).toFixed(1) : '0.0';
    const eta = m.rate > 0 ? duration((m.total - m.bytes) / m.rate) : '--';
    const rate = m.rate > 0 ? `${formatBytes(m.rate)}/s` : '';
    const detail = m.state === 'downloading' ? `${pct}%  ${formatBytes(m.bytes)} / ${formatBytes(m.total)}  ${rate}  ETA ${eta}` : m.state;
    return `${out.paint('bold', name.padEnd(10))} ${detail}`;
  };
  return {
    onProgress: (e) => {
      const note = notable(e);
      if (note) {
        out.warn(note);
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
      block.set(e.model, line(e.model, m));
    },
    stop: () => block.done(),
  };
}
