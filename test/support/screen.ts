import { Writable } from 'node:stream';

/**
 * A terminal screen, enough of one to replay what msting draws: printable text with wrapping at
 * the last column, CR, LF, cursor up/down/left/right, column moves, erase in line and in display,
 * and SGR and cursor-visibility sequences (ignored). Tests read the final screen a user sees.
 */
export function replay(stream: string, columns = 80): string[] {
  const rows: string[][] = [[]];
  let row = 0;
  let col = 0;
  let pendingWrap = false;
  const line = (r: number): string[] => {
    while (rows.length <= r) rows.push([]);
    return rows[r]!;
  };
  const put = (ch: string): void => {
    if (pendingWrap) {
      row += 1;
      col = 0;
      pendingWrap = false;
    }
    const l = line(row);
    while (l.length < col) l.push(' ');
    l[col] = ch;
    if (col === columns - 1) pendingWrap = true;
    else col += 1;
  };
  for (let i = 0; i < stream.length; i++) {
    const ch = stream[i]!;
    if (ch === '\u001b') {
      const m = /^\[([?]?)([\d;]*)([A-Za-z])/.exec(stream.slice(i + 1));
      if (!m) continue;
      i += m[0].length;
      if (m[1] === '?') continue;
      const n = m[2] === '' ? undefined : Number(m[2]!.split(';')[0]);
      pendingWrap = false;
      switch (m[3]) {
        case 'A':
          row = Math.max(0, row - (n ?? 1));
          break;
        case 'B':
          row += n ?? 1;
          break;
        case 'C':
          col = Math.min(columns - 1, col + (n ?? 1));
          break;
        case 'D':
          col = Math.max(0, col - (n ?? 1));
          break;
        case 'G':
          col = Math.max(0, (n ?? 1) - 1);
          break;
        case 'K': {
          const l = line(row);
          if ((n ?? 0) === 0) l.length = Math.min(l.length, col);
          else if (n === 1) for (let c = 0; c <= col && c < l.length; c++) l[c] = ' ';
          else l.length = 0;
          break;
        }
        case 'J':
          if ((n ?? 0) === 0) {
            line(row).length = Math.min(line(row).length, col);
            rows.length = row + 1;
          } else if (n === 2) rows.length = 0;
          break;
        default:
          break; // SGR (m) and anything else: no effect on the text
      }
      continue;
    }
    if (ch === '\r') {
      col = 0;
      pendingWrap = false;
    } else if (ch === '\n') {
      // A terminal's output processing turns LF into CR LF.
      row += 1;
      col = 0;
      pendingWrap = false;
    } else if (ch === '\b') col = Math.max(0, col - 1);
    else if (ch >= ' ') put(ch);
  }
  const text = rows.map((r) => r.join('').trimEnd());
  while (text.length > 0 && text.at(-1) === '') text.pop();
  return text;
}

/** A writable that says it is a terminal, as process.stderr on one does, recording every byte. */
export class FakeTty extends Writable {
  readonly isTTY = true;
  written = '';

  constructor(readonly columns = 80) {
    super();
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, done: () => void): void {
    this.written += chunk.toString();
    done();
  }

  cursorTo(x: number): boolean {
    return this.write(`\u001b[${x + 1}G`);
  }

  moveCursor(dx: number, dy: number): boolean {
    let s = '';
    if (dx < 0) s += `\u001b[${-dx}D`;
    else if (dx > 0) s += `\u001b[${dx}C`;
    if (dy < 0) s += `\u001b[${-dy}A`;
    else if (dy > 0) s += `\u001b[${dy}B`;
    return this.write(s);
  }

  clearLine(dir: -1 | 0 | 1): boolean {
    return this.write(dir < 0 ? '\u001b[1K' : dir > 0 ? '\u001b[0K' : '\u001b[2K');
  }
}
