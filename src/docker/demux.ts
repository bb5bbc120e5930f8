import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * Docker's multiplexed stream (exec, attach, and the log of a container without a TTY): each
 * payload comes after an 8-byte header (stream type, 0, 0, 0, big-endian length). The one
 * demultiplexer of the adapter; chunks may split headers and payloads anywhere.
 */
export class FrameSplitter {
  private pending = Buffer.alloc(0);
  private frameType = 0;
  private frameLeft = 0;

  /** Feed one chunk; `onPayload` gets each piece of payload with the stream it belongs to. */
  push(chunk: Buffer, onPayload: (stream: 'stdout' | 'stderr', payload: Buffer) => void): void {
    let buf = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    while (buf.length > 0) {
      if (this.frameLeft === 0) {
        if (buf.length < 8) {
          this.pending = Buffer.from(buf);
          break;
        }
        this.frameType = buf[0]!;
        this.frameLeft = buf.readUInt32BE(4);
        buf = buf.subarray(8);
        continue;
      }
      const take = Math.min(this.frameLeft, buf.length);
      const payload = buf.subarray(0, take);
      this.frameLeft -= take;
      buf = buf.subarray(take);
      onPayload(this.frameType === 2 ? 'stderr' : 'stdout', payload);
    }
  }
}

/** Split a multiplexed exec stream: stdout passes through with backpressure, stderr is kept (its tail). */
export class ExecDemux extends Transform {
  private readonly frames = new FrameSplitter();
  private stderrParts: Buffer[] = [];
  private stderrBytes = 0;
  private readonly atEnd: (() => Promise<void>) | undefined;

  /** `atEnd` runs when the stream ends (checking the exit code); its failure fails the stream. */
  constructor(atEnd?: () => Promise<void>) {
    super({ readableHighWaterMark: 1024 * 1024 });
    this.atEnd = atEnd;
  }

  override _flush(done: TransformCallback): void {
    if (!this.atEnd) return done();
    this.atEnd().then(() => done(), done);
  }

  get stderr(): string {
    return Buffer.concat(this.stderrParts).toString('utf8');
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.frames.push(chunk, (stream, payload) => {
      if (stream === 'stderr') this.keepStderr(Buffer.from(payload));
      else this.push(payload);
    });
    done();
  }

  private keepStderr(b: Buffer): void {
    this.stderrParts.push(b);
    this.stderrBytes += b.length;
    while (this.stderrBytes > 64 * 1024 && this.stderrParts.length > 1) this.stderrBytes -= this.stderrParts.shift()!.length;
  }
}

export interface LogLine {
  stream: 'stdout' | 'stderr';
  text: string;
}

/**
 * A container's log as lines. A TTY container's log is not multiplexed: everything is stdout.
 * Characters split across frames are decoded whole.
 */
export async function* demuxLogLines(stream: AsyncIterable<Buffer>, tty: boolean): AsyncIterable<LogLine> {
  const frames = new FrameSplitter();
  const decoders = { stdout: new StringDecoder('utf8'), stderr: new StringDecoder('utf8') };
  const partial: Record<LogLine['stream'], string> = { stdout: '', stderr: '' };
  const ready: LogLine[] = [];
  const take = (streamName: LogLine['stream'], text: string): void => {
    const lines = (partial[streamName] + text).split('\n');
    partial[streamName] = lines.pop() ?? '';
    for (const line of lines) ready.push({ stream: streamName, text: line.replace(/\r$/, '') });
  };
  for await (const chunk of stream) {
    if (tty) take('stdout', decoders.stdout.write(chunk));
    else frames.push(chunk, (streamName, payload) => take(streamName, decoders[streamName].write(payload)));
    yield* ready.splice(0);
  }
  for (const streamName of ['stdout', 'stderr'] as const) {
    const rest = partial[streamName] + decoders[streamName].end();
    if (rest !== '') yield { stream: streamName, text: rest };
  }
}
