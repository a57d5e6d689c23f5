// Reads what a soak left in its directory, for the report: soak.json (parameters, written
// first), summary.json (only when the run finished), history.jsonl, metrics.jsonl and
// checks.jsonl. A run killed halfway leaves any prefix of these, and its last line may be torn:
// every file is optional, and lines that do not parse are skipped and counted, never thrown.
import { createReadStream, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import type { HistoryEvent } from '../chaos/history.js'
import { parseHistoryLine } from '../chaos/historyReader.js'
import type { MetricsLine } from '../soak/scraper.js'
import type { LiveVerdict } from '../soak/liveCheck.js'

export interface SoakFiles {
  dir: string
  params?: any
  summary?: any
  history: HistoryEvent[]
  metrics: MetricsLine[]
  checks: LiveVerdict[]
  /** what could not be read, for the report's notes */
  notes: string[]
}

export async function loadSoakDir (dir: string): Promise<SoakFiles> {
  const notes: string[] = []
  const f: SoakFiles = { dir, history: [], metrics: [], checks: [], notes }
  f.params = readJson(join(dir, 'soak.json'), notes)
  f.summary = readJson(join(dir, 'summary.json'), notes)
  await eachLine(join(dir, 'history.jsonl'), notes, (text, line) => {
    const e = parseHistoryLine(text, line)
    if (e !== undefined) f.history.push(e)
  })
  await eachLine(join(dir, 'metrics.jsonl'), notes, (text) => {
    const m = JSON.parse(text) as MetricsLine
    if (typeof m?.t === 'number' && Number.isInteger(m.node)) f.metrics.push(m)
  })
  await eachLine(join(dir, 'checks.jsonl'), notes, (text) => {
    const c = JSON.parse(text) as LiveVerdict
    if (typeof c?.t === 'number') f.checks.push(c)
  })
  return f
}

function readJson (path: string, notes: string[]): any {
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch (err) {
    notes.push(`${path}: not readable JSON (${(err as Error).message})`)
    return undefined
  }
}

async function eachLine (path: string, notes: string[], fn: (text: string, line: number) => void): Promise<void> {
  if (!existsSync(path)) { notes.push(`${path}: missing`); return }
  let line = 0
  let bad = 0
  let first = ''
  const rl = createInterface({ input: createReadStream(path), crlfDelay: Infinity })
  for await (const text of rl) {
    line++
    if (text.trim() === '') continue
    try {
      fn(text, line)
    } catch (err) {
      if (bad++ === 0) first = `line ${line}: ${(err as Error).message.slice(0, 200)}`
    }
  }
  if (bad > 0) notes.push(`${path}: ${bad} line(s) skipped (first: ${first})`)
}
