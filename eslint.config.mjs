// ESLint flat config: the rules that find bugs in a storage library, not style (Prettier owns
// layout). Type-aware (typescript-eslint's project service over tsconfig.json) because the rules
// that matter most here need types: a floating or misused promise is a write whose failure
// nobody sees.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'build/', 'build-*/', 'prebuilds/', 'node_modules/', 'coverage/'] },
  // A few files carry eslint-disable comments for rules this config turns off as a whole.
  { linterOptions: { reportUnusedDisableDirectives: 'off' } },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.mts', '**/*.cts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // node:test's test()/describe() return promises the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
      '@typescript-eslint/require-array-sort-compare': ['error', { ignoreStringArrays: true }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      // Deliberate: optional peers (nats, prom-client) and the addon are loaded lazily with
      // require(), so a missing one is a clear error at first use, not at import.
      '@typescript-eslint/no-require-imports': 'off',
      // The one alias is prom-client's collect() callback, which receives the metric as `this`.
      '@typescript-eslint/no-this-alias': 'off',
    },
  },
  {
    files: ['test/**'],
    rules: {
      // Harnesses rethrow with their own context and print the original in the message.
      'preserve-caught-error': 'off',
      // Parsed CLI JSON and terminal escapes are what the CLI tests look at.
      '@typescript-eslint/no-explicit-any': 'off',
      'no-control-regex': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    // The Node globals the plain JS scripts use (the `globals` package would be one more dependency).
    languageOptions: {
      globals: Object.fromEntries(
        [
          'process',
          'console',
          'require',
          'module',
          'exports',
          '__dirname',
          '__filename',
          'Buffer',
          'URL',
          'setTimeout',
          'clearTimeout',
        ].map((name) => [name, 'readonly']),
      ),
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
