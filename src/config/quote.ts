/**
 * User values in messages. A config value, a map key or an environment variable can hold any
 * character; printed raw, a newline forges a report line and an escape sequence moves the cursor,
 * clears the screen or sets the terminal title. Every value that reaches a message goes through
 * `quoteValue`, and every report line through `printable` as the last guard.
 */

/** Longest value shown in a message, counted after escaping. */
export const SHOWN_VALUE_MAX = 60;

// C0 and C1 controls, DEL, and the Unicode line and paragraph separators and bidi overrides,
// which some terminals act on or which reorder what the reader sees.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

// The same set without the global flag, whose `test` keeps no state between calls.
const UNPRINTABLE_ANY = new RegExp(UNPRINTABLE.source);

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\u001b': '\\e', '\0': '\\0' };

function escapeChar(char: string): string {
  const named = NAMED[char];
  if (named !== undefined) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every control character written as an escape (`\n`, `\e`, `\x01`). */
export function printable(text: string): string {
  return text.replace(UNPRINTABLE, escapeChar);
}

/** Whether `text` holds a character `printable` would escape. */
export function hasUnprintable(text: string): boolean {
  return UNPRINTABLE_ANY.test(text);
}

/**
 * A user value in double quotes, escaped, and cut to `max` characters with an ellipsis. The cut
 * comes after escaping, so a long value cannot carry a raw character past the limit, and it
 * never splits an escape in two.
 */
export function quoteValue(value: string, max = SHOWN_VALUE_MAX): string {
  const escape = (char: string): string => (char === '\\' || char === '"' ? `\\${char}` : printable(char));
  const parts: string[] = [];
  let length = 0;
  let cut = -1;
  for (const char of value) {
    const part = escape(char);
    if (cut < 0 && length + part.length > max - 3) cut = parts.length;
    parts.push(part);
    length += part.length;
    // Past the limit either way: the rest cannot change what is shown.
    if (length > max) return `"${parts.slice(0, cut).join('')}..."`;
  }
  return `"${parts.join('')}"`;
}
