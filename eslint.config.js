// One style across the tree: neostandard (standard's rules as an ESLint flat config, with
// TypeScript support and its stylistic rules, so `eslint --fix` is the formatter too).
import neostandard from 'neostandard'

export default [
  ...neostandard({
    ts: true,
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'src/wire/*_pb.ts'],
  }),
  {
    rules: {
      // `void p` marks a promise deliberately left running (its rejection handled inside)
      'no-void': ['error', { allowAsStatement: true }],
      // `for await (const x of it) return x` takes the first element of an async iterator
      'no-unreachable-loop': 'off',
      // loop flags flipped by a concurrent async closure look unmodified to the rule
      'no-unmodified-loop-condition': 'off',
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      // `_` names a value deliberately ignored (for-await drains, destructuring)
      '@typescript-eslint/no-unused-vars': ['error', { args: 'none', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true }],
    },
  },
]
