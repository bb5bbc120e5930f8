/**
 * Glob patterns for `files` and `exclude` in config, matched against repository paths with `/`
 * separators: `*` and `?` stay within one path segment, `**` spans segments (`original/**`,
 * `**\/*.safetensors`), `{a,b}` alternates, `[abc]` is a character class. A pattern without a `/`
 * matches the file name at any depth too (`*.json` selects `config.json` and `sub/x.json`), as
 * huggingface_hub's allow_patterns do.
 */
export function globToRegExp(pattern: string): RegExp {
  let re = '';
  let i = 0;
  let inGroup = 0;
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        const atSegmentStart = i === 0 || pattern[i - 1] === '/';
        const slashAfter = pattern[i + 2] === '/';
        if (atSegmentStart && slashAfter) {
          re += '(?:.*/)?';
          i += 3;
          continue;
        }
        re += '.*';
        i += 2;
        continue;
      }
      re += '[^/]*';
    } else if (c === '?') {
      re += '[^/]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) {
        re += '\\[';
      } else {
        let cls = pattern.slice(i + 1, end).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls}]`;
        i = end;
      }
    } else if (c === '{') {
      inGroup++;
      re += '(?:';
    } else if (c === '}' && inGroup > 0) {
      inGroup--;
      re += ')';
    } else if (c === ',' && inGroup > 0) {
      re += '|';
    } else {
      re += c.replace(/[.+^${}()|\\]/g, '\\$&');
    }
    i++;
  }
  return new RegExp(`^${re}$`);
}

export function matchesGlob(path: string, pattern: string): boolean {
  if (globToRegExp(pattern).test(path)) return true;
  if (!pattern.includes('/')) {
    const name = path.slice(path.lastIndexOf('/') + 1);
    return globToRegExp(pattern).test(name);
  }
  return false;
}

/** Paths kept: matching any include pattern (all when none) and no exclude pattern. */
export function selectPaths<T extends { path: string }>(entries: readonly T[], include: readonly string[], exclude: readonly string[]): T[] {
  return entries.filter(
    (e) => (include.length === 0 || include.some((p) => matchesGlob(e.path, p))) && !exclude.some((p) => matchesGlob(e.path, p)),
  );
}
