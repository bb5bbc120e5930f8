/** What a download or verification reports, one event per change (the command picks the UI). */
export type ProgressState =
  | 'resolving'
  | 'waiting'
  | 'checking'
  | 'cached'
  | 'downloading'
  | 'retrying'
  | 'restarting'
  | 'verifying'
  | 'verified'
  | 'corrupt'
  | 'missing'
  | 'done';

/**
 * `file` null: an event about the whole model (bytes and total over all its files).
 * `bytes` are on disk; `rate` is bytes per second over the last few seconds.
 */
export interface ProgressEvent {
  model: string;
  file: string | null;
  bytes: number;
  total: number;
  rate: number;
  state: ProgressState;
  at: string;
  message?: string;
}

export type ProgressListener = (event: ProgressEvent) => void;

/** Bytes per second over a sliding window of a few seconds. */
export class RateMeter {
  private samples: Array<[number, number]> = [];
  private total = 0;

  constructor(private readonly windowMs = 5000) {}

  add(bytes: number, now = Date.now()): void {
    this.total += bytes;
    this.samples.push([now, this.total]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > this.windowMs) this.samples.shift();
  }

  rate(now = Date.now()): number {
    const first = this.samples[0];
    if (!first) return 0;
    const dt = Math.max(now - first[0], 250);
    return Math.round(((this.total - first[1]) / dt) * 1000);
  }
}
