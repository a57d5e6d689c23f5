// The soak's progress output: one line rewritten in place on a terminal, plain lines at most
// every plainEveryMs otherwise, and log lines that never end up glued to the status line.
import { describe, expect, it } from 'vitest'
import { Progress, progressLine, type ProgressState } from '../../src/soak/progress.js'

const state = (elapsedMs: number): ProgressState => ({ elapsedMs, totalMs: 3_600_000, ops: 1234, deletesConverged: 40, deletesAcked: 42, violations: 0, faults: 3, worstHeap: { node: 2, bytes: 85 * 2 ** 20 } })

describe('progress', () => {
  it('says elapsed / total, ops, deletes converged, faults, violations and the worst heap', () => {
    expect(progressLine(state(90_000))).toBe('soak 1 min 30 s / 1 h · ops 1234 · deletes converged 40/42 · faults 3 · violations 0 · worst heap node 2 85 MiB')
    expect(progressLine({ ...state(0), worstHeap: undefined })).toMatch(/heap \?$/)
  })

  it('rewrites one line on a terminal', () => {
    const out: string[] = []
    const p = new Progress({ isTTY: true, write: (s) => out.push(s) })
    p.update(state(1000))
    p.update(state(2000))
    p.log('a fault')
    p.update(state(3000))
    p.done()
    expect(out.filter((s) => s.startsWith('\r\x1b[Ksoak'))).toHaveLength(3)
    expect(out).toContain('a fault\n')
    expect(out[out.length - 1]).toBe('\n')
    expect(out.join('').split('\n')).toHaveLength(3)
  })

  it('prints plain lines at most every plainEveryMs when not a terminal', () => {
    const out: string[] = []
    const p = new Progress({ isTTY: false, write: (s) => out.push(s) }, 30_000)
    for (let t = 1000; t <= 95_000; t += 1000) p.update(state(t))
    p.done()
    expect(out).toHaveLength(4) // at 1 s, 31 s, 61 s, 91 s
    expect(out.every((l) => l.endsWith('\n') && !l.includes('\r'))).toBe(true)
  })
})
