// The process guard of `node start` (src/node/processGuard.ts): an unhandled rejection or an
// uncaught exception is logged with its stack and counted in bw_unhandled_errors_total{type};
// nothing is rethrown; uninstall removes both listeners. Runs on an EventEmitter standing in
// for `process` (vitest's own listeners on the real one would fail the run).
import { EventEmitter } from 'node:events'
import { describe, expect, it } from 'vitest'
import { installProcessGuard } from '../../src/node/processGuard.js'
import { NodeMetrics } from '../../src/node/metrics.js'
import { memoryLogger } from '../helpers/fakePubsub.js'

describe('process guard', () => {
  it('logs and counts what escaped, and keeps going', async () => {
    const proc = new EventEmitter() as unknown as NodeJS.Process
    const early = memoryLogger()
    const guard = installProcessGuard({ log: early }, proc)
    proc.emit('unhandledRejection', new Error('before start'), Promise.resolve())
    expect(early.lines.map((l) => l.obj.type)).toEqual(['rejection'])
    expect(String(early.lines[0]!.obj.err)).toMatch(/before start/)

    const log = memoryLogger()
    const metrics = new NodeMetrics()
    guard.attach({ log, metrics })
    expect(() => proc.emit('uncaughtException', new RangeError('boom'))).not.toThrow()
    proc.emit('unhandledRejection', 'a string reason', Promise.resolve())
    const values = (await metrics.unhandled.get()).values
    expect(values.find((v) => v.labels.type === 'exception')?.value).toBe(1)
    expect(values.find((v) => v.labels.type === 'rejection')?.value).toBe(1)
    expect(log.lines.every((l) => l.level === 'error')).toBe(true)
    expect(String(log.lines[0]!.obj.err)).toMatch(/RangeError: boom/)
    expect(guard.caught).toBe(3)

    guard.uninstall()
    expect((proc as unknown as EventEmitter).listenerCount('unhandledRejection')).toBe(0)
    expect((proc as unknown as EventEmitter).listenerCount('uncaughtException')).toBe(0)
  })
})
