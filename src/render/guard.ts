/**
 * Values that reach nginx, HCL or shell text (rather than a YAML or JSON document built as data)
 * pass through here: each checks its value against the narrow form the setting needs and throws
 * otherwise, so a config value can never end a directive and start another one.
 */

export function assertToken(value: string, pattern: RegExp, what: string): string {
  if (!pattern.test(value)) throw new Error(`refusing to render ${what} ${JSON.stringify(value)}: unexpected characters`);
  return value;
}

/** A host name or address as nginx `server_name` or `proxy_pass` takes it. */
export const nginxHost = (value: string): string => assertToken(value, /^[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?$/, 'host name');
/** A limit_req rate such as `10r/s`. */
export const nginxRate = (value: string): string => assertToken(value, /^\d+r\/[sm]$/, 'rate');
/** A size or time such as `100m` or `300s` or `1h30m`. */
export const nginxUnitValue = (value: string): string => assertToken(value, /^\d+[a-z]{0,2}(\d+[a-z]{1,2})*$/, 'size or time');
/** An upstream or zone name. */
export const nginxName = (value: string): string => assertToken(value, /^[a-z][a-z0-9_-]{0,62}$/, 'name');
