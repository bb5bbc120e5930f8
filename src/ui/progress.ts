import type { Ora } from 'ora';
import type { Output, Tone } from './output.js';

/**
 * Every live display msting draws: per-service states (start, restart, restore, update), byte
 * counts (backup, restore, verify, decrypt), model downloads and install steps. On a terminal
 * they are drawn by one spinner (ora) whose text is the whole block, so the block is cleared by
 * its real height (ora counts wrapped lines) and each line is drawn once; lines printed through
 * `Output` meanwhile appear above the block. In plain mode a display prints a line per change,
 * under --json an NDJSON event, exactly as each caller decides; nothing here prints then.
 */

/** What a live block shows: a title beside the spinner and the lines under it. */
export interface LiveView {
  title: string;
  lines: string[];
}

/** How often the view is read again, for the elapsed times and rates in it. */
const REFRESH_MS = 250;

/**
 * A block redrawn in place on a terminal. ora is imported when the first block opens, so a run
 * that never shows one (any piped or --json run) never loads it.
 */
export class LiveBlock {
  /** Settles once the spinner draws (or the block closed first); tests wait on it. */
  readonly ready: Promise<void>;
  private spinner: Ora | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly out: Output,
    private readonly view: () => LiveView,
  ) {
    this.ready = import('ora').then(({ default: ora }) => {
      if (this.closed) return;
      this.spinner = ora({ stream: out.stderr, isEnabled: true, discardStdin: false, color: out.color ? 'cyan' : false, text: this.text() }).start();
      out.attachLive(this);
      this.timer = setInterval(() => this.refresh(), REFRESH_MS);
      this.timer.unref();
    });
  }

  /** Read the view again now (a state changed). */
  refresh(): void {
    if (this.spinner) this.spinner.text = this.text();
  }

  /** Output calls these around a line it prints while the block is on the screen. */
  clear(): void {
    this.spinner?.clear();
  }

  render(): void {
    this.spinner?.render();
  }

  suspend(): void {
    this.spinner?.stop();
  }

  resume(): void {
    this.spinner?.start();
  }

  /** Take the block off the screen; with `keep`, its last lines stay (without the spinner line). */
  close(options: { keep: boolean }): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.out.detachLive(this);
    this.spinner?.stop();
    const lines = this.view().lines;
    if (options.keep && lines.length > 0) this.out.stderr.write(`${lines.join('\n')}\n`);
  }

  private text(): string {
    const { title, lines } = this.view();
    return [title, ...lines].join('\n');
  }
}

const STATE_TONE: Partial<Record<string, Tone>> = {
  healthy: 'green',
  running: 'green',
  completed: 'green',
  failed: 'red',
  skipped: 'yellow',
  waiting: 'dim',
};

interface ServiceRow {
  state: string;
  detail?: string | undefined;
  since: number;
  end?: number;
}

/**
 * One line per service. On a terminal a live block with elapsed times; in plain mode each change
 * is one line; under --json each change is an NDJSON event.
 */
export class ServiceProgress {
  private readonly rows: Map<string, ServiceRow>;
  private readonly width: number;
  private readonly block: LiveBlock | undefined;
  private readonly t0 = Date.now();

  constructor(
    private readonly out: Output,
    services: string[],
    /** The states after which a service's clock stops. */
    private readonly isFinal: (state: string) => boolean,
    title = 'waiting for services',
  ) {
    // A service named twice is still one row.
    this.rows = new Map([...new Set(services)].map((s) => [s, { state: 'waiting', since: Date.now() }]));
    this.width = Math.max(8, ...services.map((s) => s.length));
    if (out.interactive) this.block = new LiveBlock(out, () => ({ title: `${title} (${this.upCount()} of ${this.rows.size} up)`, lines: this.lines() }));
  }

  get ready(): Promise<void> {
    return this.block?.ready ?? Promise.resolve();
  }

  update(service: string, state: string, detail?: string): void {
    const row = this.rows.get(service);
    const now = Date.now();
    if (row) {
      if (row.state === 'waiting' && state !== 'waiting') row.since = now;
      row.state = state;
      row.detail = detail;
      if (this.isFinal(state)) row.end = now;
    }
    if (this.out.json) {
      this.out.event({ service, state, at: new Date(now).toISOString(), ...(detail ? { detail } : {}) });
      return;
    }
    if (this.block) {
      this.block.refresh();
      return;
    }
    if (state === 'waiting') return;
    const elapsed = ((now - this.t0) / 1000).toFixed(1);
    this.out.info(`${service}: ${state}${detail ? ` (${detail})` : ''} [${elapsed}s]`);
  }

  close(): void {
    this.block?.close({ keep: true });
  }

  private upCount(): number {
    return [...this.rows.values()].filter((r) => r.end !== undefined && r.state !== 'failed' && r.state !== 'skipped').length;
  }

  private lines(): string[] {
    return [...this.rows].map(([service, row]) => {
      const elapsed = row.state === 'waiting' ? '' : `${(((row.end ?? Date.now()) - row.since) / 1000).toFixed(1)}s`;
      const state = this.out.paint(STATE_TONE[row.state] ?? 'cyan', row.state.padEnd(9));
      const detail = row.detail === 'unchanged' ? '  (unchanged)' : row.detail ? `  ${row.detail}` : '';
      return `  ${service.padEnd(this.width)}  ${state} ${elapsed.padStart(6)}${detail}`;
    });
  }
}

/**
 * One line that changes (a stage, a byte count): a spinner line on a terminal, gone when done.
 * Callers print the lines that should stay through `Output`.
 */
export class StatusLine {
  private current = '';
  private readonly block: LiveBlock | undefined;

  constructor(out: Output) {
    if (out.interactive) this.block = new LiveBlock(out, () => ({ title: this.current, lines: [] }));
  }

  get ready(): Promise<void> {
    return this.block?.ready ?? Promise.resolve();
  }

  /** Shown on a terminal only; other modes print what they need themselves. */
  set(text: string): void {
    this.current = text;
    this.block?.refresh();
  }

  done(): void {
    this.block?.close({ keep: false });
  }
}

/** Lines keyed by name (one per model), redrawn in place on a terminal; kept on the screen when done. */
export class KeyedLines {
  private readonly lines = new Map<string, string>();
  private readonly block: LiveBlock | undefined;

  constructor(out: Output, title: string) {
    if (out.interactive) this.block = new LiveBlock(out, () => ({ title, lines: [...this.lines.values()] }));
  }

  get ready(): Promise<void> {
    return this.block?.ready ?? Promise.resolve();
  }

  set(key: string, line: string): void {
    this.lines.set(key, line);
    this.block?.refresh();
  }

  done(): void {
    this.block?.close({ keep: true });
  }
}
