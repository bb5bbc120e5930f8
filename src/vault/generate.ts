import { randomBytes, randomInt } from 'node:crypto';
import type { SecretGenerator } from '../stack/secrets.js';

const ALPHABETS = {
  hex: '0123456789abcdef',
  alnum: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  base64: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/',
  urlsafe: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
} as const;

/**
 * Byte count whose encoding is exactly `length` characters (base64 with padding, url-safe
 * without), preferring whole 16-byte blocks (a 44-character base64 key is 32 bytes).
 */
function keyBytes(alphabet: 'base64' | 'urlsafe', length: number): number | undefined {
  const encoded = (n: number): number => (alphabet === 'base64' ? 4 * Math.ceil(n / 3) : Math.ceil((4 * n) / 3));
  const fits: number[] = [];
  for (let n = Math.floor((length * 3) / 4) - 2; n <= Math.ceil((length * 3) / 4) + 2; n += 1) if (n > 0 && encoded(n) === length) fits.push(n);
  return fits.find((n) => n % 16 === 0) ?? fits.at(-1);
}

/**
 * A fresh secret of exactly `length` characters from its alphabet, from the system CSPRNG.
 * Characters are drawn with randomInt (rejection sampling inside, so no modulo bias); base64 and
 * url-safe keys are the encoding of random bytes when the length allows, so they decode to a key.
 */
export function generateSecret(generator: SecretGenerator): string {
  const { alphabet, length } = generator;
  if (!Number.isInteger(length) || length <= 0) throw new Error(`invalid secret length ${length}`);
  if (alphabet === 'base64' || alphabet === 'urlsafe') {
    const n = keyBytes(alphabet, length);
    if (n !== undefined) {
      const bytes = randomBytes(n);
      return alphabet === 'base64' ? bytes.toString('base64') : bytes.toString('base64url');
    }
  }
  const chars = ALPHABETS[alphabet];
  let out = '';
  for (let i = 0; i < length; i += 1) out += chars[randomInt(chars.length)];
  return out;
}
