import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The Cuttle version every node reports; nodes of a cluster must run the same one. */
export const VERSION: string = pkg.version;
export const API_VERSION = '3.0.0';
