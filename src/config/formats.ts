import { isIP } from 'node:net';

/**
 * The forms of the config values that end up in other programs' syntax: image references in the
 * compose file, CORS origins in kratos.yml and the services' env files, the SMTP host in a URI, a
 * model revision in a Hub URL and a cache path. Each is checked here as what it is, so a bad
 * value fails at `config validate` rather than at pull, download or sign-in time.
 */

/** One DNS label: letters, digits and inner dashes, at most 63 characters. */
const LABEL = '[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?';

/** A DNS host name: dot-separated labels, at most 253 characters. */
export const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

export function isHostOrIp(value: string): boolean {
  return HOSTNAME.test(value) || isIP(value) !== 0;
}

// The image reference grammar of the distribution project (what Docker and Compose parse):
//   reference := name [":" tag] ["@" digest]
//   name      := [domain "/"] path-component ["/" path-component]*
//   domain    := host [":" port], host a DNS name or a bracketed IPv6 address
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = `(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?`;
const PATH_COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const NAME = new RegExp(`^(?:(${DOMAIN})/)?${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const REFERENCE = /^([^@]+?)(?::([\w][\w.-]{0,127}))?(?:@(sha256:[a-f0-9]{64}))?$/;

/** Longest image name (without tag and digest) the distribution grammar allows. */
export const IMAGE_NAME_MAX = 255;
/** Longest full reference: a name, `:` and a 128-character tag, `@sha256:` and 64 hex digits. */
export const IMAGE_REFERENCE_MAX = IMAGE_NAME_MAX + 1 + 128 + 1 + 71;

/** Whether `value` is an image name (no tag, no digest). */
function isImageName(value: string): boolean {
  if (value.length > IMAGE_NAME_MAX) return false;
  const match = NAME.exec(value);
  if (!match) return false;
  const domain = match[1];
  // Without a dot, a colon or "localhost" the first component is a Docker Hub path, not a
  // registry, and paths are lower case.
  return domain === undefined || domain === 'localhost' || /[.:]/.test(domain) || domain === domain.toLowerCase();
}

/** A full image reference: `[registry[:port]/]path[:tag][@sha256:digest]`. */
export function isImageReference(value: string): boolean {
  // Bounded first: the split between name and tag below backtracks over the whole value.
  if (value.length > IMAGE_REFERENCE_MAX) return false;
  // `host:5000/app` has a colon in its name part; a tag cannot hold a slash, so the split
  // lands after the last one.
  const match = REFERENCE.exec(value);
  return match !== null && isImageName(match[1]!);
}

/** `images.registry`: the part before `/sting-ce-<service>`, so it must make a valid name with it. */
export function isImageRegistry(value: string): boolean {
  return value.length > 0 && isImageName(`${value.replace(/\/+$/, '')}/sting-ce-app`);
}

/**
 * A revision the Hub resolves: a 40-hex commit, or a branch or tag name under git's rules for
 * ref names (`git check-ref-format`). A ref name cannot hold spaces or `..`, so it is also safe
 * as the path of the model cache's ref file.
 */
export function isGitRevision(value: string): boolean {
  if (/^[0-9a-f]{40}$/.test(value)) return true;
  if (value === '' || value === '@' || value.length > 255) return false;
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  if (/[\u0000-\u0020\u007f~^:?*[\\]/.test(value)) return false;
  if (value.includes('..') || value.includes('@{') || value.includes('//')) return false;
  if (value.startsWith('/') || value.startsWith('-') || value.endsWith('/') || value.endsWith('.')) return false;
  return value.split('/').every((part) => !part.startsWith('.') && !part.endsWith('.lock'));
}

/** Widest and narrowest `network.subnet`: msting cuts it into eight networks of at least /28. */
export const SUBNET_PREFIX = { min: 8, max: 25 } as const;

/** An IPv4 network in CIDR form, `a.b.c.d/n`, that can be cut into the stack's networks. */
export function isStackSubnet(value: string): boolean {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(value);
  if (!match) return false;
  // A leading zero reads as octal to some tools and as decimal to others.
  if (match.slice(1, 6).some((part) => part.length > 1 && part.startsWith('0'))) return false;
  if (match.slice(1, 5).some((octet) => Number(octet) > 255)) return false;
  const prefix = Number(match[5]);
  return prefix >= SUBNET_PREFIX.min && prefix <= SUBNET_PREFIX.max;
}

/** Longest origin: `https://` + a 253-character host name + `:65535` + a trailing slash. */
export const ORIGIN_MAX = 268;

/**
 * A browser origin: `http` or `https`, a host and an optional port, nothing else. Anything the
 * URL parser would turn into the opaque origin `null` (no scheme, `file:`) is refused, since
 * `null` in an allowed-origins list with credentials lets sandboxed pages in.
 */
export function isHttpOrigin(value: string): boolean {
  const match = /^https?:\/\/(\[[0-9a-fA-F:.]+\]|[^/:[\]]+)(?::(\d{1,5}))?\/?$/.exec(value);
  if (!match) return false;
  const host = match[1]!;
  const hostOk = host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : HOSTNAME.test(host) || isIP(host) === 4;
  if (!hostOk) return false;
  if (match[2] !== undefined && (Number(match[2]) < 1 || Number(match[2]) > 65535)) return false;
  try {
    return new URL(value).origin !== 'null';
  } catch {
    return false;
  }
}
