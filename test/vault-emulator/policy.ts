/**
 * The part of Vault's ACL system msting relies on: HCL `path "..." { capabilities = [...] }`
 * blocks, exact paths, a trailing `*` (prefix glob) and `+` (one path segment), and Vault's rule
 * that the most specific matching path wins (capabilities of equal paths from several policies merge).
 */

export const CAPABILITIES = ['create', 'read', 'update', 'patch', 'delete', 'list', 'sudo', 'deny'] as const;
export type Capability = (typeof CAPABILITIES)[number];

export interface PathRule {
  pattern: string;
  capabilities: Set<Capability>;
}

export class PolicyParseError extends Error {}

/** Parse the HCL subset. Throws PolicyParseError on anything it does not understand. */
export function parsePolicy(hcl: string): PathRule[] {
  const text = hcl.replace(/#[^\n]*/g, '').replace(/\/\/[^\n]*/g, '');
  const rules: PathRule[] = [];
  const block = /path\s+"([^"]*)"\s*\{([^}]*)\}/g;
  let match: RegExpExecArray | null;
  while ((match = block.exec(text)) !== null) {
    const [, pattern = '', body = ''] = match;
    const caps = /capabilities\s*=\s*\[([^\]]*)\]/.exec(body);
    if (!caps) throw new PolicyParseError(`path "${pattern}": missing capabilities`);
    const rest = body.replace(caps[0], '').trim();
    if (rest !== '') throw new PolicyParseError(`path "${pattern}": unsupported content: ${rest}`);
    const capabilities = new Set<Capability>();
    for (const raw of (caps[1] ?? '').split(',')) {
      const name = raw.trim().replace(/^"|"$/g, '');
      if (name === '') continue;
      if (!(CAPABILITIES as readonly string[]).includes(name)) throw new PolicyParseError(`path "${pattern}": invalid capability "${name}"`);
      capabilities.add(name as Capability);
    }
    const star = pattern.indexOf('*');
    if (star !== -1 && star !== pattern.length - 1) throw new PolicyParseError(`path "${pattern}": "*" is only allowed at the end`);
    rules.push({ pattern: pattern.replace(/^\//, ''), capabilities });
  }
  const leftover = text.replace(block, '').trim();
  if (leftover !== '') throw new PolicyParseError(`unsupported content: ${leftover.slice(0, 60)}`);
  return rules;
}

function matches(pattern: string, path: string): boolean {
  const glob = pattern.endsWith('*');
  const body = glob ? pattern.slice(0, -1) : pattern;
  const patternSegments = body.split('/');
  const pathSegments = path.split('/');
  if (!glob && patternSegments.length !== pathSegments.length) return false;
  if (glob && pathSegments.length < patternSegments.length) return false;
  for (let i = 0; i < patternSegments.length; i += 1) {
    const want = patternSegments[i] ?? '';
    const have = pathSegments[i] ?? '';
    const last = i === patternSegments.length - 1;
    if (want === '+') {
      if (have === '' && !(glob && last)) return false;
      continue;
    }
    if (glob && last) {
      if (!have.startsWith(want)) return false;
    } else if (want !== have) return false;
  }
  return true;
}

/**
 * Vault's priority between two matching patterns (higher wins): a later first wildcard wins; no
 * trailing `*` beats one; fewer `+` segments win; the longer pattern wins; then the larger string.
 */
function morePrecise(a: string, b: string): boolean {
  const firstWildcard = (p: string): number => {
    const indexes = [p.indexOf('+'), p.indexOf('*')].filter((i) => i >= 0);
    return indexes.length === 0 ? Number.MAX_SAFE_INTEGER : Math.min(...indexes);
  };
  const wa = firstWildcard(a);
  const wb = firstWildcard(b);
  if (wa !== wb) return wa > wb;
  const sa = a.endsWith('*');
  const sb = b.endsWith('*');
  if (sa !== sb) return !sa;
  const pa = a.split('+').length;
  const pb = b.split('+').length;
  if (pa !== pb) return pa < pb;
  if (a.length !== b.length) return a.length > b.length;
  return a > b;
}

/** Capabilities granted on `path` by the union of `rules` (from every policy of a token). */
export function capabilitiesFor(rules: PathRule[], path: string): Set<Capability> {
  const exact = rules.filter((r) => r.pattern === path);
  let chosen: PathRule[] = exact;
  if (chosen.length === 0) {
    let best: string | undefined;
    for (const rule of rules) {
      if (!matches(rule.pattern, path)) continue;
      if (best === undefined || morePrecise(rule.pattern, best)) best = rule.pattern;
    }
    chosen = best === undefined ? [] : rules.filter((r) => r.pattern === best);
  }
  const caps = new Set<Capability>();
  for (const rule of chosen) for (const c of rule.capabilities) caps.add(c);
  if (caps.has('deny')) return new Set(['deny']);
  return caps;
}

/** Vault's built-in `default` policy, reduced to what token holders use. */
export const DEFAULT_POLICY = `
path "auth/token/lookup-self" { capabilities = ["read"] }
path "auth/token/renew-self" { capabilities = ["update"] }
path "auth/token/revoke-self" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
`;
