import { formatBytes } from '../bytes.js';
import type { Output } from './output.js';
import { StatusLine } from './progress.js';

/** Byte counts and rate of backup, verify, decrypt and restore: a spinner line on a terminal, NDJSON events under --json, a line per stage otherwise. */
export class ByteProgress {
  private bytes = 0;
  private label = '';
  private readonly started = Date.now();
  private lastDraw = 0;
  private readonly out: Output;
  private readonly verb: string;
  private readonly line: StatusLine;

  constructor(out: Output, verb: string) {
    this.out = out;
    this.verb = verb;
    this.line = new StatusLine(out);
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
    this.line.set(`${this.verb}: ${this.label}  ${formatBytes(this.bytes)}  ${formatBytes(this.rate())}/s`);
  }

  done(): void {
    this.line.done();
  }
}

