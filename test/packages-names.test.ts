// Package file names and version order: what a push reads from the file name, and the order
// `latest` and retention rely on (SemVer precedence, compared byte-wise in PostgreSQL).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import semver from 'semver';
import { InputError } from '../src/errors.js';
import { parsePackageFileName, versionSortKey } from '../src/packages/names.js';

describe('package file names', () => {
  it('reads id, version and extension', () => {
    assert.deepEqual(parsePackageFileName('Hello.1.0.0.zip'), { packageId: 'Hello', version: '1.0.0', extension: '.zip' });
    assert.deepEqual(parsePackageFileName('Hello.World.2.10.3-beta.1+build.7.tar.gz'), { packageId: 'Hello.World', version: '2.10.3-beta.1+build.7', extension: '.tar.gz' });
    assert.deepEqual(parsePackageFileName('My_App-2.1.2.3.4.nupkg'), { packageId: 'My_App-2', version: '1.2.3.4', extension: '.nupkg' });
    assert.deepEqual(parsePackageFileName('app.1.2.tgz'), { packageId: 'app', version: '1.2', extension: '.tgz' });
    assert.equal(parsePackageFileName('Lib.1.2.3.4.tar').version, '1.2.3.4');
  });

  it('refuses names without a version, with a bad id, or with a path', () => {
    for (const [name, pattern] of [
      ['Hello.zip', /has no version/], ['Hello.one.zip', /has no version/], ['Hello.1.0.0.rar', /no package extension/],
      ['.hidden.1.0.0.zip', /contains a path/], ['../Hello.1.0.0.zip', /contains a path/], ['a/Hello.1.0.0.zip', /contains a path/],
      ['C:Hello.1.0.0.zip', /contains a path/], ['He llo.1.0.0.zip', /invalid id/], ['-x.1.0.0.zip', /invalid id/], ['', /empty/],
    ] as const) {
      assert.throws(() => parsePackageFileName(name), (e: unknown) => e instanceof InputError && pattern.test(e.message), name);
    }
  });

  it('orders versions byte-wise as SemVer does', () => {
    const versions = ['1.0.0', '1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1',
      '0.9.0', '1.0.1', '1.10.0', '1.2.0', '10.0.0', '2.0.0', '1.0.0-alpha-x', '1.0.0-alpha.0'];
    const bySort = [...versions].sort((x, y) => (versionSortKey(x) < versionSortKey(y) ? -1 : versionSortKey(x) > versionSortKey(y) ? 1 : 0));
    assert.deepEqual(bySort, [...versions].sort(semver.compare));
    assert.equal(versionSortKey('1.0.0+build.1'), versionSortKey('1.0.0'), 'build metadata does not order');
    assert.ok(versionSortKey('1.2.3.4') > versionSortKey('1.2.3'), 'a fourth part orders after three');
  });
});
