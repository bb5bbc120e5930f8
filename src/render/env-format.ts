/**
 * Env files as Docker Compose reads them. Values are single-quoted (taken literally: no `$`
 * expansion, no escapes); a value holding a single quote, a newline or a backslash is
 * double-quoted with `\\`, `\"`, `\$` and `\n` escapes. Either way one entry is one line, so no
 * value can start another variable.
 */

const NAME = /^[A-Z_][A-Z0-9_]*$/;

export function quoteEnvValue(value: string): string {
  if (!/['\n\r\\]/.test(value)) return `'${value}'`;
  const escaped = value
    .replaceAll('\\', '\\\\')
    .replaceAll('"', '\\"')
    .replaceAll('$', '\\$')
    .replaceAll('\r', '\\r')
    .replaceAll('\n', '\\n');
  return `"${escaped}"`;
}

/** One env file: a comment header, then `NAME=value` lines sorted by name. */
export function formatEnvFile(service: string, entries: Record<string, string>): string {
  const lines = [`# ${service}: rendered by msting from config.yml and Vault. Mode 0600; do not edit.`];
  for (const name of Object.keys(entries).sort()) {
    if (!NAME.test(name)) throw new Error(`invalid environment variable name ${JSON.stringify(name)}`);
    lines.push(`${name}=${quoteEnvValue(entries[name] ?? '')}`);
  }
  return `${lines.join('\n')}\n`;
}

/** The entries of an env file formatEnvFile wrote (comments skipped, quoting undone). */
export function parseEnvFile(content: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const line of content.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    const name = line.slice(0, at);
    const raw = line.slice(at + 1);
    if (at < 1 || !NAME.test(name)) throw new Error(`not an env file line: ${JSON.stringify(line.slice(0, 40))}`);
    if (raw.startsWith("'") && raw.endsWith("'") && raw.length >= 2) entries[name] = raw.slice(1, -1);
    else if (raw.startsWith('"') && raw.endsWith('"') && raw.length >= 2) {
      const escapes: Record<string, string> = { '\\': '\\', '"': '"', $: '$', r: '\r', n: '\n' };
      entries[name] = raw.slice(1, -1).replace(/\\(.)/g, (whole, c: string) => escapes[c] ?? whole);
    } else entries[name] = raw;
  }
  return entries;
}

/**
 * The same entries for a POSIX shell to source (`set -a; . FILE`), as a Swarm service's wrapper
 * does: every value single-quoted, a single quote written as `'\''`, so nothing in a value is
 * expanded or run (Compose's double quotes would let a shell run a backtick).
 */
export function formatShellEnvFile(content: string): string {
  const entries = parseEnvFile(content);
  const lines = Object.keys(entries)
    .sort()
    .map((name) => `${name}='${(entries[name] ?? '').replaceAll("'", `'\\''`)}'`);
  return `${lines.join('\n')}\n`;
}
