// Logger factory. pino writes a bigint as a bare JSON number (precision lost past 2^53),
// so every id is logged through hex() as a string.
import pino, { type Logger } from 'pino'

export function createLogger (name: string, level = process.env.BELLWETHER_LOG_LEVEL ?? 'info', dest?: pino.DestinationStream): Logger {
  return pino({ name, level, base: { pid: process.pid } }, dest ?? pino.destination({ fd: 2, sync: false }))
}

export function hex (v: bigint, width = 16): string {
  return v.toString(16).padStart(width, '0')
}
