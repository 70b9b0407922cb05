// Package file names: `<PackageId>.<Version><extension>`, the only place a pushed package's id and
// version exist (the official client sends nothing else). SemVer 2 versions (pre-release, build
// metadata) and NuGet's four-part ones; ids of letters, digits, `_`, `-` and `.`.
import semver from 'semver';
import { InputError } from '../errors.js';

export const EXTENSIONS = ['.tar.gz', '.tgz', '.tar', '.zip', '.nupkg'] as const;
export type PackageExtension = (typeof EXTENSIONS)[number];

export interface PackageName { readonly packageId: string; readonly version: string; readonly extension: PackageExtension }

const ID = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$/;
const FOUR_PART = /^\d+(\.\d+){1,3}(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/;

export function isPackageVersion(v: string): boolean {
  return v.length <= 349 && (semver.valid(v) !== null || FOUR_PART.test(v));
}

export function packageIdProblem(id: string): string | undefined {
  if (!ID.test(id)) return `"${id}" is not a package id (letters, digits, _, - and ., at most 100 characters, not starting with . or -)`;
  if (id.includes('..')) return `"${id}" is not a package id (it contains "..")`;
  return undefined;
}

/** Reads id, version and extension from a pushed file's name; a 400 naming the problem otherwise. */
export function parsePackageFileName(name: string): PackageName {
  const bad = (why: string) => new InputError(`The package file name "${name}" ${why}; name it <PackageId>.<Version><extension> (e.g. Hello.1.0.0.zip), with one of ${EXTENSIONS.join(', ')}.`);
  if (!name || name.length > 500) throw bad('is empty or too long');
  if (/[/\\\0]/.test(name) || name.startsWith('.') || /^[A-Za-z]:/.test(name)) throw bad('contains a path (a folder, "..", a drive or a NUL); send the bare file name');
  const extension = EXTENSIONS.find((e) => name.toLowerCase().endsWith(e));
  if (!extension) throw bad('has no package extension');
  const base = name.slice(0, name.length - extension.length);
  // The first `.<digit>` after which the rest is a version splits id from version (Hello.World.1.0.0).
  for (let i = base.indexOf('.'); i > 0; i = base.indexOf('.', i + 1)) {
    const version = base.slice(i + 1);
    if (/^\d/.test(version) && isPackageVersion(version)) {
      const packageId = base.slice(0, i);
      const problem = packageIdProblem(packageId);
      if (problem) throw bad(`has an invalid id: ${problem}`);
      return { packageId, version, extension };
    }
  }
  throw bad('has no version');
}

/** Octopus's id of a package version in a feed. */
export const packageVersionId = (packageId: string, version: string): string => `packages-${packageId}.${version}`;

/**
 * A text that sorts byte-wise (COLLATE "C") in SemVer precedence: numeric parts zero-padded, a
 * release after its pre-releases, numeric pre-release identifiers before alphanumeric ones, and a
 * shorter identifier list first; build metadata ignored.
 */
export function versionSortKey(version: string): string {
  const plain = version.split('+')[0]!;
  const dash = plain.indexOf('-');
  const core = dash < 0 ? plain : plain.slice(0, dash);
  const pre = dash < 0 ? '' : plain.slice(dash + 1);
  const pad = (n: string) => n.replace(/^0+(?=\d)/, '').padStart(20, '0');
  const nums = core.split('.').map(pad);
  while (nums.length < 4) nums.push(pad('0'));
  const head = nums.join('.');
  if (!pre) return `${head}~`;
  const ids = pre.split('.').map((p) => (/^\d+$/.test(p) ? `0${pad(p)}` : `1${p}`));
  // Identifiers joined by \u0001, below every character an identifier may hold: a prefix sorts first.
  return `${head}-${ids.join('\u0001')}`;
}
