// The last line under a running node: an error that escapes every handler and timer (an
// unhandled promise rejection, an exception thrown from an event-loop callback) is logged with
// its stack and counted in bw_unhandled_errors_total{type}, and the node keeps running.
//
// Why keep running: every handler and timer of ours catches its own errors, so what reaches
// this guard is a bug; if that bug can be triggered by a peer's message, dying would let one
// message stop every node of the cluster at once (issue 11: one heartbeat did exactly that).
// A rejection that nobody awaited only lost its own operation. The node's durable state is
// written atomically and checked at start, so it is never torn by a failed operation. The
// counter is what an operator alerts on (any non-zero value is a bug to report).
//
// Why a dedicated counter and not bw_rejected_total: that one counts untrusted input refused
// on purpose (normal under attack or misconfiguration); this one counts our own failures.
import type { Logger } from 'pino'
import type { NodeMetrics } from './metrics.js'

export interface GuardSink {
  log: Pick<Logger, 'error'>
  metrics?: Pick<NodeMetrics, 'unhandled'>
}

export interface ProcessGuard {
  /** where to report from now on (the node's logger and metrics once it has started) */
  attach: (sink: GuardSink) => void
  uninstall: () => void
  /** how many errors it stopped (also when no metrics are attached yet) */
  readonly caught: number
}

export function installProcessGuard (initial: GuardSink, proc: NodeJS.Process = process): ProcessGuard {
  let sink = initial
  let caught = 0
  const report = (type: 'rejection' | 'exception', err: unknown): void => {
    caught++
    try {
      sink.metrics?.unhandled.inc({ type })
      const e = err as Error | undefined
      sink.log.error({ type, err: String(e?.stack ?? e) }, `unhandled ${type} stopped by the process guard (a bug: please report it); the node keeps running`)
    } catch {
      // reporting must never be what kills the process
    }
  }
  const onRejection = (reason: unknown): void => { report('rejection', reason) }
  const onException = (err: unknown): void => { report('exception', err) }
  proc.on('unhandledRejection', onRejection)
  proc.on('uncaughtException', onException)
  return {
    attach: (s) => { sink = s },
    uninstall: () => {
      proc.off('unhandledRejection', onRejection)
      proc.off('uncaughtException', onException)
    },
    get caught () { return caught }
  }
}
