// The whole tree in one style: ESLint with neostandard (eslint.config.js) over src, test,
// scripts and bin, run here so `npm test` fails on a lint error while every other test still
// runs and is counted. `npm run lint` prints the same; `npm run format` fixes what it can.
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { packageRoot } from '../../src/cluster/launcher.js'

describe('lint', () => {
  it('every file passes ESLint (neostandard) with no error and no warning', async () => {
    const eslint = new ESLint({ cwd: packageRoot() })
    const results = await eslint.lintFiles(['.'])
    const problems = results.flatMap((r) => r.messages.map((m) =>
      `${r.filePath.slice(packageRoot().length + 1)}:${m.line}:${m.column} ${m.ruleId ?? 'parse'}: ${m.message}`))
    expect(results.length, 'files linted').toBeGreaterThan(100)
    expect(problems, `run \`npm run format\` to fix what it can:\n${problems.slice(0, 40).join('\n')}`).toEqual([])
  }, 300_000)
})
