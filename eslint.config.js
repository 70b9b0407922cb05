// ESLint, type-checked (typescript-eslint), plus the import rules that keep the parts layered.
// `npm run lint` runs it after `tsc --noEmit`; `npm test` runs it after the build, before the tests.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';
import { importX } from 'eslint-plugin-import-x';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';

// The layers of design/deployments.md §7, lowest first; a folder of src/ (or a file, for the
// composition root) may import only what its entry lists, besides itself and the leaf modules
// errors.ts and version.ts. Every other import points the wrong way (and is how cycles start).
const MAY_IMPORT = {
  crypto: [],
  db: [],
  config: ['crypto'],
  auth: ['db', 'crypto'],
  cluster: ['db', 'crypto'],
  storage: ['cluster', 'db', 'crypto'],
  // Task handlers declare the permissions their operations need (auth sits below: db, crypto only).
  tasks: ['storage', 'cluster', 'db', 'crypto', 'config', 'auth'],
  // The feed sits below deployments: a release picks package versions, a package step extracts one.
  packages: ['tasks', 'storage', 'cluster', 'db', 'crypto', 'config'],
  deploy: ['packages', 'tasks', 'storage', 'cluster', 'db', 'crypto', 'config', 'auth'],
  // Operations: metrics, telemetry and event exports read every part below and change none of them.
  ops: ['deploy', 'packages', 'tasks', 'storage', 'cluster', 'db', 'crypto', 'config', 'auth'],
  api: ['ops', 'deploy', 'packages', 'tasks', 'storage', 'cluster', 'db', 'crypto', 'config', 'auth'],
  // The CLI talks to parts through their exported functions, never through the API's presenters;
  // `start` and `run` start a node through the composition root.
  cli: ['main.ts', 'ops', 'deploy', 'packages', 'tasks', 'storage', 'cluster', 'db', 'crypto', 'config', 'auth'],
  'main.ts': ['api', 'ops', 'deploy', 'packages', 'tasks', 'storage', 'cluster', 'db', 'crypto', 'config', 'auth'],
};
const PARTS = Object.keys(MAY_IMPORT);
const path = (part) => `./src/${part}`;
const layerZones = Object.entries(MAY_IMPORT).map(([part, allowed]) => ({
  target: path(part),
  from: PARTS.filter((p) => p !== part && !allowed.includes(p)).map(path),
  message: `${part} sits below these in design/deployments.md §7: imports point right only (move what both need down, or let the caller pass it in).`,
}));

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'web/dist/', 'web/vite.config.ts', '*.config.js', 'bin/'] },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // The import rules read the files an import leads to: they must parse TypeScript too...
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // ...and find them: NodeNext's `./x.js` specifiers stand for `./x.ts` files.
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      // An un-awaited promise in a server is a lost error: await it, or `void` it with its rejection handled.
      // (node:test's describe/it/before/after return promises its runner awaits itself.)
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'suite', 'it', 'test', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      // The code's convention for a parameter a signature needs but the body does not use: `_name`.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'import-x/no-restricted-paths': ['error', { zones: layerZones }],
    },
  },
  {
    // Black-box tests and benchmarks read JSON from the API and the database: untyped by nature, so
    // the rules about flowing `any` values are off there (and only there). Floating promises, unused
    // code, import rules and the rest still apply.
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    // The portal (web/): the same type-checked rules, against its own tsconfig (DOM, JSX, bundler).
    files: ['web/src/**/*.ts', 'web/src/**/*.tsx'],
    extends: [js.configs.recommended, tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './web/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
);
