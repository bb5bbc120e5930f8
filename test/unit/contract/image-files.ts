import { existsSync, readFileSync } from 'node:fs';
import { join, normalize } from 'node:path';

/**
 * What a Dockerfile puts into its image from the build context: the sources of the final stage's
 * `COPY`/`ADD` lines (not `COPY --from=`, which copies from another stage), as paths relative to
 * the source tree. An image built FROM another image of the tree (the model services' shared base)
 * also holds what that base copied.
 */

export interface DockerRecipe {
  /** Build context, relative to the source tree. */
  context: string;
  /** Dockerfile, relative to the source tree. */
  dockerfile: string;
}

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
export function dockerInstructions(text: string): string[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

export interface ImageCopies {
  /** Paths in the tree copied into the final stage (a folder stands for everything under it). */
  sources: string[];
  /** The final stage's base image. */
  from: string;
}

export function imageCopies(dockerfileText: string, context: string): ImageCopies {
  const lines = dockerInstructions(dockerfileText);
  let from = '';
  let sources: string[] = [];
  for (const line of lines) {
    const [instruction = '', ...rest] = line.split(/\s+/);
    const op = instruction.toUpperCase();
    if (op === 'FROM') {
      from = rest.find((w) => !w.startsWith('--')) ?? '';
      sources = [];
    } else if (op === 'COPY' || op === 'ADD') {
      if (rest.some((w) => w.startsWith('--from'))) continue;
      const args = copyArguments(rest.filter((w) => !w.startsWith('--')).join(' '));
      for (const src of args.slice(0, -1)) sources.push(treePath(context, src));
    }
  }
  return { sources, from };
}

function copyArguments(text: string): string[] {
  const trimmed = text.trim();
  if (trimmed.startsWith('[')) {
    try {
      return (JSON.parse(trimmed) as unknown[]).map(String);
    } catch {
      return [];
    }
  }
  return trimmed.split(/\s+/);
}

function treePath(context: string, src: string): string {
  // `migration[s]/` is the Dockerfile idiom for "copy if present"; strip glob brackets.
  const path = normalize(join(context, src.replace(/\[(\w)\]/g, '$1')));
  return path === '.' ? '' : path.replace(/\/$/, '');
}

/**
 * Every tree path in the image `recipe` builds. `baseRecipes` maps an image name used in `FROM` to
 * the recipe of the tree that builds it. Undefined when the Dockerfile is not in the tree.
 */
export function imageSources(tree: string, recipe: DockerRecipe, baseRecipes: Record<string, DockerRecipe> = {}): string[] | undefined {
  const path = join(tree, recipe.dockerfile);
  if (!existsSync(path)) return undefined;
  const copies = imageCopies(readFileSync(path, 'utf8'), recipe.context);
  const base = baseRecipes[copies.from];
  const fromBase = base && base.dockerfile !== recipe.dockerfile ? (imageSources(tree, base, {}) ?? []) : [];
  return [...fromBase, ...copies.sources];
}

/** True when `file` (relative to the tree) is one of `sources` or lies under one of them. */
export function inImage(file: string, sources: readonly string[]): boolean {
  return sources.some((s) => s === '' || file === s || file.startsWith(`${s}/`));
}
