import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/** The Cuttle version every node reports; nodes of a cluster must run the same one. */
export const VERSION: string = pkg.version;
export const API_VERSION = '3.0.0';
/**
 * The Octopus Server version whose REST API Cuttle implements, reported as `Version` by `GET /api`.
 * Strict three-part SemVer at or above 2022.3.5512: the official client (@octopusdeploy/api-client)
 * parses it with semver and refuses release, deployment and runbook-run commands below 2022.3.5512
 * (and throws "Invalid Version" on a two- or four-part one).
 */
export const OCTOPUS_VERSION = '2024.1.0';
