import { randomBytes, randomInt } from 'node:crypto';

/**
 * Shamir's secret sharing over GF(2^8), laid out like Vault's `shamir` package: each share is the
 * y value for every byte of the secret followed by one byte holding the share's x coordinate.
 * Any `threshold` shares give the secret back; fewer, or shares from another split, give noise.
 */

/** Multiplication in GF(2^8) reduced by the AES polynomial x^8 + x^4 + x^3 + x + 1. */
function mul(a: number, b: number): number {
  let product = 0;
  let x = a;
  let y = b;
  while (y > 0) {
    if (y & 1) product ^= x;
    x = x & 0x80 ? ((x << 1) ^ 0x11b) & 0xff : (x << 1) & 0xff;
    y >>= 1;
  }
  return product;
}

/** a^254 = a^-1 in GF(2^8) (a != 0). */
function inverse(a: number): number {
  let result = 1;
  let base = a;
  let exp = 254;
  while (exp > 0) {
    if (exp & 1) result = mul(result, base);
    base = mul(base, base);
    exp >>= 1;
  }
  return result;
}

function div(a: number, b: number): number {
  if (b === 0) throw new Error('divide by zero');
  return mul(a, inverse(b));
}

/** Evaluate a polynomial (coefficients lowest degree first) at x with Horner's rule. */
function evaluate(coefficients: Uint8Array, x: number): number {
  let result = 0;
  for (let i = coefficients.length - 1; i >= 0; i -= 1) result = mul(result, x) ^ (coefficients[i] ?? 0);
  return result;
}

/** Lagrange interpolation of the points at x = 0. */
function interpolateAtZero(xs: number[], ys: number[]): number {
  let result = 0;
  for (let i = 0; i < xs.length; i += 1) {
    let basis = 1;
    for (let j = 0; j < xs.length; j += 1) {
      if (i === j) continue;
      // (0 - x_j) / (x_i - x_j); subtraction is XOR in GF(2^8).
      basis = mul(basis, div(xs[j] ?? 0, (xs[i] ?? 0) ^ (xs[j] ?? 0)));
    }
    result ^= mul(ys[i] ?? 0, basis);
  }
  return result;
}

/** Split `secret` into `parts` shares, any `threshold` of which rebuild it. */
export function split(secret: Uint8Array, parts: number, threshold: number): Buffer[] {
  if (parts < threshold) throw new Error('parts cannot be less than threshold');
  if (parts > 255) throw new Error('parts cannot exceed 255');
  if (threshold < 1) throw new Error('threshold must be at least 1');
  if (secret.length === 0) throw new Error('cannot split an empty secret');
  if (threshold === 1 && parts === 1) return [Buffer.concat([Buffer.from(secret), Buffer.from([1])])];
  if (threshold < 2) throw new Error('threshold must be at least 2');
  // Distinct non-zero x coordinates in random order, as Vault does.
  const xs = shuffle(Array.from({ length: 255 }, (_, i) => i + 1)).slice(0, parts);
  const shares = xs.map((x) => {
    const share = Buffer.alloc(secret.length + 1);
    share[secret.length] = x;
    return share;
  });
  for (let b = 0; b < secret.length; b += 1) {
    const coefficients = new Uint8Array(threshold);
    coefficients.set(randomBytes(threshold - 1), 1);
    coefficients[0] = secret[b] ?? 0;
    for (let p = 0; p < parts; p += 1) {
      const share = shares[p] as Buffer;
      share[b] = evaluate(coefficients, xs[p] ?? 0);
    }
  }
  return shares;
}

/** Rebuild the secret from shares. Wrong or foreign shares give a wrong secret, never an error. */
export function combine(shares: Uint8Array[]): Buffer {
  if (shares.length === 0) throw new Error('less than one part cannot be used to reconstruct the secret');
  const length = shares[0]?.length ?? 0;
  if (length < 2) throw new Error('parts must be at least two bytes');
  if (shares.some((s) => s.length !== length)) throw new Error('all parts must be the same length');
  if (shares.length === 1) return Buffer.from(shares[0]?.subarray(0, length - 1) ?? []);
  const xs = shares.map((s) => s[length - 1] ?? 0);
  if (new Set(xs).size !== xs.length) throw new Error('duplicate part detected');
  const secret = Buffer.alloc(length - 1);
  for (let b = 0; b < length - 1; b += 1) {
    secret[b] = interpolateAtZero(
      xs,
      shares.map((s) => s[b] ?? 0),
    );
  }
  return secret;
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i -= 1) {
    const j = randomInt(i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}
