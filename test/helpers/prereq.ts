// What a test file needs from the machine (root, nft, ip, /proc), declared as a test of its
// own. Outside CI a missing prerequisite skips the tests that need it, printing why; under
// CI=true the prerequisite's test fails naming what is missing, so a green CI run has really
// run every test (.ci/run also fails a run that skipped anything).
import { expect, it } from 'vitest'

/** CI=true (or any value but "false"/"0"), as CI services and .ci/run set it */
export const IN_CI = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false' && process.env.CI !== '0'

/**
 * Registers the test "prerequisites of WHAT" (it fails under CI when `missing` is not null)
 * and returns whether the tests needing it must be skipped: true exactly when `missing` is set.
 * `missing` says what is missing, e.g. "not root (nftables needs root)".
 */
export function prerequisite (file: string, what: string, missing: string | null): boolean {
  if (missing !== null && !IN_CI) console.warn(`${file}: skipping ${what}: ${missing} (under CI=true this fails the run)`)
  it.skipIf(missing !== null && !IN_CI)(`prerequisites of ${what}`, () => {
    expect(missing, `missing prerequisite of ${what}: ${missing ?? ''}`).toBeNull()
  })
  return missing !== null
}
