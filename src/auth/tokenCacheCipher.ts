// The token cache holds a refresh token that is worth 90 days of access to a tenant's alerts: at rest it is
// sealed with AES-256-GCM (authenticated: a modified file is refused, not half-read). The key is derived with
// scrypt from the operator's key material (MDE_ALERT_SYNC_TOKEN_CACHE_KEY or tokenCacheKeyFile).
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto';

const FORMAT = 'mde-alert-sync-token-cache';
const derivedKeys = new Map<string, Buffer>();

interface Envelope {
  format: typeof FORMAT;
  version: 1;
  cipher: 'aes-256-gcm';
  kdf: 'scrypt';
  salt: string;
  iv: string;
  tag: string;
  data: string;
}

export class TokenCacheUnreadableError extends Error {}

function keyFor(material: string, salt: Buffer): Buffer {
  // scrypt is slow on purpose; the cache is read before every token use, so each (material, salt) is derived once.
  const id = `${salt.toString('base64')}:${material.length}:${material}`;
  let key = derivedKeys.get(id);
  if (!key) {
    key = scryptSync(material, salt, 32, { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
    derivedKeys.set(id, key);
  }
  return key;
}

export function isSealed(contents: string): boolean {
  try {
    return (JSON.parse(contents) as Partial<Envelope>)?.format === FORMAT;
  } catch {
    return false;
  }
}

/** The salt of a sealed cache (kept across its writes, so it tells one cache from another); else undefined. */
export function sealedSalt(contents: string): string | undefined {
  return isSealed(contents) ? (JSON.parse(contents) as Envelope).salt : undefined;
}

export function sealTokenCache(plaintext: string, material: string, previous?: string): string {
  // Keep the file's salt across writes so that the derived key is computed once per process.
  const previousSalt = previous === undefined ? undefined : sealedSalt(previous);
  const salt = previousSalt ? Buffer.from(previousSalt, 'base64') : randomBytes(16);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(material, salt), iv);
  const data = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  const envelope: Envelope = { format: FORMAT, version: 1, cipher: 'aes-256-gcm', kdf: 'scrypt', salt: salt.toString('base64'), iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  return JSON.stringify(envelope);
}

export function openTokenCache(contents: string, material: string): string {
  const envelope = JSON.parse(contents) as Envelope;
  if (envelope.version !== 1 || envelope.cipher !== 'aes-256-gcm') throw new TokenCacheUnreadableError(`it was written in a format this version does not know (version ${String(envelope.version)})`);
  try {
    const decipher = createDecipheriv('aes-256-gcm', keyFor(material, Buffer.from(envelope.salt, 'base64')), Buffer.from(envelope.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(envelope.tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(envelope.data, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new TokenCacheUnreadableError('it cannot be decrypted with the configured key (wrong key, or the file was modified)');
  }
}
