// eslint (flat config): the recommended rules of eslint and typescript-eslint for src/, test/, bench/
// and the scripts. Formatting is prettier's job: eslint-config-prettier turns off the rules that
// would fight it. Type-aware rules are not on: they tripled the time of a run (see package.json lint).
import js from '@eslint/js'
import prettier from 'eslint-config-prettier'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default tseslint.config(
  {ignores: ['dist/', 'build/', 'node_modules/', 'bpf/.output/', '.cache/']},
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: {globals: globals.node},
    rules: {
      // `const {event: _event, ...rest} = body` is how a key is left out of a copy.
      '@typescript-eslint/no-unused-vars': ['error', {ignoreRestSiblings: true}],
      // A `let` that a callback reads before the assignment (`if (engine)`) cannot be a const.
      'prefer-const': ['error', {ignoreReadBeforeAssign: true}],
      // 'l' is V8's linear-time regexp engine (--enable-experimental-regexp-engine, query/event-filter.ts).
      'no-invalid-regexp': ['error', {allowConstructorFlags: ['l']}],
    },
  },
  {
    files: ['test/**'],
    rules: {
      // Terminal tests match escape sequences (\x1b[, backspace overstrikes) on purpose.
      'no-control-regex': 'off',
      // Tests read recorded events as loose JSON (Record<string, any>) to assert on any field.
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  prettier,
)
