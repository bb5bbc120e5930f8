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
