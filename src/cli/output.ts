// CLI output and exit codes: the exit code set (Sheepdog dog's), the error type that carries
// one, the I/O seam that lets tests capture everything main() prints, and plain text tables.

/** dog's exit codes, so scripts written for dog read ours the same way. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  UNREACHABLE: 2,
  EXISTS: 3,
  NOT_FOUND: 5,
  USAGE: 64
} as const

export type ExitCode = typeof EXIT[keyof typeof EXIT]

/** An expected failure: printed as one line (never a stack), mapped to its exit code. */
export class CliError extends Error {
  override name = 'CliError'
  constructor (message: string, readonly exitCode: number = EXIT.FAILURE) {
    super(message)
  }
}

export interface OutStream {
  write: (chunk: string | Uint8Array, cb?: (err?: Error | null) => void) => boolean
}

/** Everything main() reads or writes; tests pass buffers instead of the process streams. */
export interface CliIo {
  stdout: OutStream
  stderr: OutStream
  stdin: AsyncIterable<Uint8Array | string>
}

export function processIo (): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }
}

export class Printer {
  constructor (readonly io: CliIo, readonly json: boolean) {}

  line (text = ''): void {
    this.io.stdout.write(text + '\n')
  }

  error (text: string): void {
    this.io.stderr.write(`bellwether: ${text}\n`)
  }

  /** stderr, so a script reading stdout (raw data, JSON) is never mixed with progress text. */
  note (text: string): void {
    this.io.stderr.write(text + '\n')
  }

  printJson (value: unknown): void {
    this.io.stdout.write(JSON.stringify(value, jsonReplacer, 2) + '\n')
  }

  /** Writes binary data and waits until the stream accepted it, so large reads keep backpressure. */
  async raw (data: Uint8Array): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.io.stdout.write(data, (err) => { if (err != null) reject(err); else resolve() })
    })
  }

  table (headers: string[], rows: string[][]): void {
    this.io.stdout.write(renderTable(headers, rows))
  }
}

/** bigints never reach JSON.stringify as numbers: hex strings, as in the admin API. */
function jsonReplacer (_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? value.toString(16) : value
}

export function renderTable (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const fmt = (cells: string[]): string =>
    cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd() + '\n'
  return fmt(headers) + rows.map(fmt).join('')
}

/** First 8 and last 6 characters: enough to tell peers apart in a table. */
export function shortPeerId (id: string): string {
  return id.length <= 16 ? id : `${id.slice(0, 8)}…${id.slice(-6)}`
}
