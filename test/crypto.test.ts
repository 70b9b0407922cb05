import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { decrypt, encrypt, generateMasterKey, keyCheck, keyMatches, parseMasterKey } from '../src/crypto/masterKey.js';
import { hashPassword, verifyPassword } from '../src/crypto/secrets.js';
import { InputError } from '../src/errors.js';
import { ADMIN_API_KEY, ADMIN_PASSWORD, adminQuery, createCluster } from './helpers.js';

describe('the master key', () => {
  it('refuses 10,000 random wrong keys at the key check', () => {
    const right = parseMasterKey(generateMasterKey());
    const stored = keyCheck(right);
    assert.equal(keyMatches(right, stored), true, 'the right key must pass its own check');
    let accepted = 0;
    for (let i = 0; i < 10_000; i++) {
      if (keyMatches(parseMasterKey(generateMasterKey()), stored)) accepted++;
    }
    assert.equal(accepted, 0);
  });

  it('accepts the same key however it is written (surrounding whitespace, a new line)', () => {
    const text = generateMasterKey();
    const stored = keyCheck(parseMasterKey(text));
    assert.equal(keyMatches(parseMasterKey(`  ${text}\n`), stored), true);
  });

  it('refuses malformed keys with an InputError that says what a key looks like', () => {
    const malformed = [
      '',
      'not base64 at all!',
      Buffer.alloc(16, 7).toString('base64'), // 128 bits: too short
      Buffer.alloc(33, 7).toString('base64'), // one byte too many
      generateMasterKey().slice(0, 43), // truncated copy
    ];
    for (const m of malformed) {
      assert.throws(() => parseMasterKey(m), (err: unknown) => {
        assert.ok(err instanceof InputError, `"${m}" should give an InputError, got ${String(err)}`);
        assert.match(err.message, /master key/);
        assert.match(err.message, /show-master-key|openssl rand -base64 32/);
        return true;
      });
    }
  });
});

describe('envelope encryption with the master key', () => {
  const key = parseMasterKey(generateMasterKey());

  it('decrypts what it encrypted, including empty and non-ASCII values', () => {
    for (const v of ['s3cret', '', 'pässwörd ✓ 秘密', 'x'.repeat(100_000)]) {
      assert.equal(decrypt(key, encrypt(key, v)), v);
    }
  });

  it('uses a fresh nonce for every value, so the same value encrypts differently each time', () => {
    const a = encrypt(key, 'same value');
    const b = encrypt(key, 'same value');
    assert.notEqual(a, b);
    assert.notEqual(a.split('.')[1], b.split('.')[1], 'the nonces must differ');
    assert.doesNotMatch(a, /same value/);
  });

  it('refuses a tampered ciphertext, a tampered tag and another key', () => {
    const sealed = encrypt(key, 'deploy password');
    const [v, iv, tag, ct] = sealed.split('.') as [string, string, string, string];
    const flip = (s: string) => {
      const b = Buffer.from(s, 'base64url');
      b[0] = b[0]! ^ 0x01;
      return b.toString('base64url');
    };
    assert.throws(() => decrypt(key, [v, iv, tag, flip(ct)].join('.')));
    assert.throws(() => decrypt(key, [v, iv, flip(tag), ct].join('.')));
    assert.throws(() => decrypt(key, [v, flip(iv), tag, ct].join('.')));
    assert.throws(() => decrypt(parseMasterKey(generateMasterKey()), sealed));
    assert.throws(() => decrypt(key, 'garbage'), InputError);
  });
});

describe('password hashing', () => {
  it('verifies the right password and rejects a wrong one', async () => {
    const stored = await hashPassword('correct horse');
    assert.doesNotMatch(stored, /correct horse/);
    assert.equal(await verifyPassword('correct horse', stored), true);
    assert.equal(await verifyPassword('correct horse ', stored), false);
    assert.equal(await verifyPassword('', stored), false);
    assert.equal(await verifyPassword('correct horse', 'not a hash'), false);
  });

  it('salts every hash, so one password hashes differently twice', async () => {
    assert.notEqual(await hashPassword('same password'), await hashPassword('same password'));
  });
});

// Through the real CLI on purpose: what `setup` and `admin --api-key` store, and the files they write.
describe('secrets in a cluster created through the CLI', () => {
  it('stores API keys and passwords hashed, and the key file readable only by its owner', async () => {
    const c = await createCluster(['keeper']);
    const keys = await adminQuery<{ row: string }>('SELECT row_to_json(k)::text AS row FROM api_keys k', [], c.databaseUrl);
    assert.equal(keys.rowCount, 1, 'cuttle admin --api-key registers one key');
    assert.ok(!keys.rows[0]!.row.includes(ADMIN_API_KEY), 'the API key itself must not be stored');
    assert.ok(!keys.rows[0]!.row.includes(ADMIN_API_KEY.slice(4)), 'no part of the API key may be stored');
    const users = await adminQuery<{ row: string }>('SELECT row_to_json(u)::text AS row FROM users u', [], c.databaseUrl);
    assert.equal(users.rowCount, 1, 'setup creates the administrator');
    for (const u of users.rows) {
      assert.ok(!u.row.includes(ADMIN_PASSWORD), 'the password must not be stored');
      assert.match(JSON.parse(u.row).password_hash, /^scrypt\$/, 'the password is stored as a scrypt hash');
    }
    const cluster = await adminQuery<{ row: string }>('SELECT row_to_json(x)::text AS row FROM cluster x', [], c.databaseUrl);
    assert.ok(!cluster.rows[0]!.row.includes(c.masterKey), 'the master key must not be stored in the database');
    assert.equal(statSync(join(c.homes[0]!, 'master.key')).mode & 0o777, 0o600);
    assert.equal(statSync(join(c.homes[0]!, 'cuttle.config.json')).mode & 0o777, 0o600);
  });
});
