import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { InputError } from '../errors.js';

/** The cluster's master key: 32 random bytes, shown to users as base64. */
export interface MasterKey {
  readonly base64: string;
  readonly dataKey: Buffer;
  readonly sessionKey: Buffer;
  readonly checkKey: Buffer;
}

const KEY_CHECK_CONSTANT = 'cuttle key check v1';

export function generateMasterKey(): string {
  return randomBytes(32).toString('base64');
}

function derive(raw: Buffer, purpose: string): Buffer {
  // Separate keys per purpose: a leak of one (a session signature oracle, say) tells nothing of the others.
  return Buffer.from(hkdfSync('sha256', raw, Buffer.alloc(0), `cuttle ${purpose}`, 32));
}

/** Parses a base64 master key; a malformed one is an InputError naming the expected form. */
export function parseMasterKey(text: string): MasterKey {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) {
    throw new InputError('The master key is not base64; copy it exactly as `cuttle show-master-key` prints it (44 characters ending in "=").');
  }
  const raw = Buffer.from(trimmed, 'base64');
  if (raw.length !== 32) {
    throw new InputError(`The master key decodes to ${raw.length} bytes but must be 32 (256 bits); copy it exactly as \`cuttle show-master-key\` prints it, or make one with \`openssl rand -base64 32\`.`);
  }
  return Object.freeze({
    base64: raw.toString('base64'),
    dataKey: derive(raw, 'data encryption'),
    sessionKey: derive(raw, 'session signing'),
    checkKey: derive(raw, 'key check'),
  });
}

/** A value only the right key can produce; stored in the database to verify joining nodes. */
export function keyCheck(key: MasterKey): string {
  return createHmac('sha256', key.checkKey).update(KEY_CHECK_CONSTANT).digest('base64');
}

export function keyMatches(key: MasterKey, stored: string): boolean {
  const mine = Buffer.from(keyCheck(key), 'base64');
  const theirs = Buffer.from(stored, 'base64');
  return mine.length === theirs.length && timingSafeEqual(mine, theirs);
}

/** AES-256-GCM with a fresh 96-bit nonce per value; output `v1.<nonce>.<tag>.<ciphertext>` in base64url. */
export function encrypt(key: MasterKey, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.dataKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
}

export function decrypt(key: MasterKey, sealed: string): string {
  const [v, iv, tag, ct] = sealed.split('.');
  if (v !== 'v1' || iv === undefined || tag === undefined || ct === undefined) {
    throw new InputError('The encrypted value is not in a format this Cuttle understands.');
  }
  const decipher = createDecipheriv('aes-256-gcm', key.dataKey, Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
}

/** HMAC signature used for session cookies; any node with the master key can verify it. */
export function sign(key: MasterKey, value: string): string {
  return createHmac('sha256', key.sessionKey).update(value).digest('base64url');
}

export function verifySignature(key: MasterKey, value: string, signature: string): boolean {
  const a = Buffer.from(sign(key, value));
  const b = Buffer.from(signature);
  return a.length === b.length && timingSafeEqual(a, b);
}
