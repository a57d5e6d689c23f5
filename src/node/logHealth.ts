// The delete log's health as the node reports it: a disk that refuses the log makes the node
// refuse object I/O (node.unavailable()) until a retry succeeds; the outage is logged once, not
// once per retry (a full disk can last for hours), and the records that waited are applied
// when the log is writable again.
import type { Logger } from 'pino'
import type { DeleteLog } from '../tombstones/deleteLog.js'
import type { DeleteRec } from '../tombstones/record.js'
import type { NodeMetrics } from './metrics.js'

/** `logger()`: read at each event, so lines carry the node id start() adds to the logger */
export function watchDeleteLog (log: DeleteLog, metrics: NodeMetrics, logger: () => Logger, applyLate: (recs: DeleteRec[]) => void, unavailable: () => string | undefined): void {
  let down = false
  log.hooks = {
    writeFailed: (err) => {
      metrics.deleteLogWriteFailures.inc()
      if (down) { logger().debug({ err: String(err) }, 'delete log retry failed'); return }
      down = true
      logger().error({ err: String(err) }, 'delete log write failed: refusing object reads and writes until a retry succeeds')
    },
    recovered: (recs) => {
      down = false
      logger().warn({ records: recs.length }, 'delete log writable again: applying the records that waited')
      applyLate(recs)
    }
  }
  metrics.deleteLogState = () => ({ failing: unavailable() != null, pending: log.pending })
}
