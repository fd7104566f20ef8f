// ESLint flat config: typescript-eslint recommended rules plus the import-direction rules that keep
// the layers honest (crypto knows no network, network knows no UI). See docs/ARCHITECTURE.md.
import js from '@eslint/js'
import tseslint from 'typescript-eslint'

const noRestricted = (patterns) => ['error', { patterns }]

export default tseslint.config(
  { ignores: ['dist/**', 'dist-*/**', 'node_modules/**', 'src/**/gen/**', 'coverage/**'] },
  js.configs.recommended,
  {
    files: ['**/*.cjs', '**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', require: 'writable', module: 'writable', Buffer: 'readonly', URL: 'readonly' } }
  },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'off'
    }
  },
  {
    files: ['src/crypto/**/*.ts'],
    rules: {
      'no-restricted-imports': noRestricted([
        { group: ['**/net/**', '**/store/**', '**/core/**', '**/cli/**', '**/daemon/**', '**/web/**', '**/wire/**'], message: 'crypto imports nothing of ours outside src/crypto' },
        { group: ['node:*', 'crypto', 'fs', 'net'], message: 'Node-only APIs live in src/crypto/primitives/node.ts (swapped for web.ts in browsers)' },
        { group: ['libp2p', '@libp2p/*', '@multiformats/*'], message: 'crypto knows no network' }
      ])
    }
  },
  {
    files: ['src/crypto/primitives/node.ts'],
    rules: { 'no-restricted-imports': 'off' }
  },
  {
    files: ['src/groups/**/*.ts', 'src/store/**/*.ts'],
    rules: {
      'no-restricted-imports': noRestricted([
        { group: ['**/net/**', '**/core/**', '**/cli/**', '**/daemon/**', 'libp2p', '@libp2p/*'], message: 'groups and store know no network and no faces' }
      ])
    }
  }
)
