import { stripVTControlCharacters } from 'node:util';

/** Decided once per run: everything that prints asks this, never the environment again. */
export type OutputMode = 'json' | 'tty' | 'plain';

export interface OutputSettings {
  json: boolean;
  color: boolean;
  verbose: boolean;
}

export interface Streams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

export function decideMode(settings: Pick<OutputSettings, 'json'>, streams: Streams, env: NodeJS.ProcessEnv): OutputMode {
  if (settings.json) return 'json';
  if (!streams.stderr.isTTY || !streams.stdout.isTTY || isCi(env)) return 'plain';
  return 'tty';
}

export function isCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '' && env.CI !== 'false' && env.CI !== '0';
}

/**
 * Colour only on a terminal (never into a pipe or a file, whatever FORCE_COLOR says), and not
 * with --no-color, NO_COLOR, FORCE_COLOR=0 or TERM=dumb.
 */
export function colorAllowed(settings: Pick<OutputSettings, 'color'>, mode: OutputMode, env: NodeJS.ProcessEnv): boolean {
  if (!settings.color || mode !== 'tty') return false;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR === '0' || env.FORCE_COLOR === 'false') return false;
  return env.TERM !== 'dumb';
}

/** chalk's level on a terminal: FORCE_COLOR=2 or 3 asks for 256 colours or true colour; basic colours otherwise. */
function colorLevel(env: NodeJS.ProcessEnv): 1 | 2 | 3 {
  return env.FORCE_COLOR === '2' ? 2 : env.FORCE_COLOR === '3' ? 3 : 1;
}

export type Tone = 'red' | 'yellow' | 'green' | 'cyan' | 'dim' | 'bold';

/** A block drawn in place on the terminal (src/ui/progress.ts) that a printed line must not tear. */
export interface LiveRegion {
  clear(): void;
  render(): void;
  /** Off the screen while a block opened inside it (install's start step) is drawn; back after. */
  suspend(): void;
  resume(): void;
}

/**
 * Where every line a command prints goes. Results (the answer a script wants) go to stdout;
 * messages, warnings and progress go to stderr. Under --json, stdout carries exactly one JSON
 * document, or NDJSON events for long work, and nothing else.
 */
export class Output {
  readonly mode: OutputMode;
  readonly color: boolean;
  readonly verbose: boolean;
  private readonly streams: Streams;
  private readonly env: NodeJS.ProcessEnv;
  private painter: ((tone: Tone, text: string) => string) | undefined;
  private live: LiveRegion | undefined;
  /** The blocks a live block opened inside, to draw again when it closes. */
  private readonly outer: Array<LiveRegion | undefined> = [];

  constructor(mode: OutputMode, color: boolean, verbose: boolean, streams: Streams, env: NodeJS.ProcessEnv = {}) {
    this.mode = mode;
    this.color = color;
    this.verbose = verbose;
    this.streams = streams;
    this.env = env;
  }

  /**
   * Loads chalk when colour is on. It is imported only then, so a piped, --json or --no-color run
   * never pays for it; until this settles, text is painted plain.
   */
  async prepare(): Promise<void> {
    if (!this.color || this.painter) return;
    const { Chalk } = await import('chalk');
    const chalk = new Chalk({ level: colorLevel(this.env) });
    this.painter = (tone, text) => chalk[tone](text);
  }

  /** While a live block is on the screen, every line printed goes above it. */
  attachLive(region: LiveRegion): void {
    this.live?.suspend();
    this.outer.push(this.live);
    this.live = region;
  }

  detachLive(region: LiveRegion): void {
    if (this.live !== region) return;
    this.live = this.outer.pop();
    this.live?.resume();
  }

  get json(): boolean {
    return this.mode === 'json';
  }

  get interactive(): boolean {
    return this.mode === 'tty';
  }

  paint(tone: Tone, text: string): string {
    return this.painter ? this.painter(tone, text) : text;
  }

  /** A progress or status line for people (stderr). Silent under --json. */
  info(message: string): void {
    if (this.mode !== 'json') this.writeErr(message);
  }

  success(message: string): void {
    if (this.mode !== 'json') this.writeErr(`${this.paint('green', '✔')} ${message}`);
  }

  /** Warnings go to stderr in every mode: a script reading stdout JSON still sees nothing extra. */
  warn(message: string): void {
    this.writeErr(`${this.paint('yellow', 'warning:')} ${message}`);
  }

  debug(message: string): void {
    if (this.verbose) this.writeErr(this.paint('dim', message));
  }

  /** The human answer of a command (stdout). Ignored under --json: use `result` there. */
  print(text: string): void {
    if (this.mode !== 'json') this.aboveLive(() => this.streams.stdout.write(text.endsWith('\n') ? text : `${text}\n`));
  }

  /** The one JSON document of a --json run. */
  result(data: unknown): void {
    if (this.mode === 'json') this.streams.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  }

  /** One NDJSON event of a long-running --json command. */
  event(data: Record<string, unknown>): void {
    if (this.mode === 'json') this.streams.stdout.write(`${JSON.stringify(data)}\n`);
  }

  /** Raw stderr access for spinners and progress renderers (tty mode only). */
  get stderr(): Streams['stderr'] {
    return this.streams.stderr;
  }

  get stdout(): Streams['stdout'] {
    return this.streams.stdout;
  }

  private writeErr(message: string): void {
    const text = this.color ? message : stripVTControlCharacters(message);
    this.aboveLive(() => this.streams.stderr.write(text.endsWith('\n') ? text : `${text}\n`));
  }

  private aboveLive(write: () => void): void {
    this.live?.clear();
    write();
    this.live?.render();
  }
}

export function createOutput(settings: OutputSettings, streams: Streams = process, env: NodeJS.ProcessEnv = process.env): Output {
  const mode = decideMode(settings, streams, env);
  return new Output(mode, colorAllowed(settings, mode, env), settings.verbose, streams, env);
}
