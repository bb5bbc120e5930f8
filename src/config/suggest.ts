/** Edit distance (insertions, deletions, substitutions) between two short strings. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
    }
    previous = current;
  }
  return previous[b.length]!;
}

/**
 * The closest candidate to a misspelt name, or undefined when none is close enough
 * (at most two edits, and fewer edits than the word is long, so "db" never suggests "app"), or
 * the one candidate the word abbreviates ("prod" for "production").
 * Case and `-`/`_` differences count as a match, since YAML keys get both wrong often.
 */
export function closestMatch(word: string, candidates: Iterable<string>): string | undefined {
  // No name is this long, and the edit distance of a huge word would take seconds.
  if (word.length > 64) return undefined;
  const folded = fold(word);
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    if (candidate === word) continue;
    const distance = fold(candidate) === folded ? 0 : editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  const limit = Math.min(2, Math.max(1, Math.floor(word.length / 2)));
  if (best !== undefined && bestDistance <= limit) return best;
  // An abbreviation ("prod", "obs") of exactly one candidate.
  if (word.length >= 3) {
    const starts = [...candidates].filter((c) => c.toLowerCase().startsWith(word.toLowerCase()) && c !== word);
    if (starts.length === 1) return starts[0];
  }
  return undefined;
}

function fold(word: string): string {
  return word.toLowerCase().replace(/[-_]/g, '');
}

/** `did you mean "x"?`, or undefined. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  const match = closestMatch(word, candidates);
  return match === undefined ? undefined : `did you mean "${match}"?`;
}
