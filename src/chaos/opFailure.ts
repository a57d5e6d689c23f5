// The chaos workload's reading of an admin API error: definite (the operation certainly had
// no effect: `fail` in the history) or unknown (`info`). Shared by the workload and the final
// gather of the history checker.

import type { ClusterNode } from '../cluster/clusterFile.js'
import { ApiError, MalformedAnswerError, UnreachableError } from '../api/client.js'

/**
 * `definite`: the operation certainly had no effect (4xx: the node refused it before doing
 * anything; connection refused: it never arrived). Otherwise its outcome is unknown.
 * kind: 'client' (4xx), 'server' (5xx), 'timeout', 'network'.
 */
export class OpFailure extends Error {
  constructor (message: string, readonly kind: 'client' | 'server' | 'timeout' | 'network' | 'info', readonly code: string, readonly definite = false) {
    super(message)
  }
}

/** What an admin API call through `node` (deadline `ms`) that threw means for the history. */
export function opFailure (err: unknown, node: ClusterNode, ms: number): OpFailure {
  if (err instanceof OpFailure) return err
  if (err instanceof MalformedAnswerError) return new OpFailure(`node ${node.index} sent a malformed answer`, 'server', 'INTERNAL')
  if (err instanceof ApiError) {
    if (err.status >= 400 && err.status < 500) return new OpFailure(err.message, 'client', err.code, true)
    return new OpFailure(err.message, 'server', err.code)
  }
  if (err instanceof UnreachableError) {
    if (err.reason === 'timeout') return new OpFailure(`node ${node.index} did not answer within ${ms} ms`, 'timeout', 'TIMEOUT')
    if (err.reason === 'refused') return new OpFailure(`node ${node.index}: connection refused`, 'network', 'REFUSED', true)
    return new OpFailure(`node ${node.index}: ${err.detail}`, 'network', 'NETWORK')
  }
  return new OpFailure(String((err as Error)?.message ?? err), 'info', 'CLIENT')
}
