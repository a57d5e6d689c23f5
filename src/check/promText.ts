// Prometheus text exposition format (version 0.0.4), parsed: what the soak scraper stores and
// what tests read from /metrics. Strict: a line that is not a comment, blank or a well-formed
// sample is an error naming the line, so a node that serves broken metrics is caught.

export interface Sample { name: string, labels: Record<string, string>, value: number }
export interface Exposition {
  samples: Sample[]
  /** metric family → type, from `# TYPE` lines */
  types: Map<string, string>
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/
const LABEL = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|(?=\}))/

export function parsePromText (text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = /^#\s*TYPE\s+(\S+)\s+(counter|gauge|histogram|summary|untyped)\s*$/.exec(line)
      if (m != null) types.set(m[1], m[2])
      continue
    }
    try {
      samples.push(parseSample(line))
    } catch (err) {
      throw new Error(`metrics line ${i + 1}: ${(err as Error).message}: ${line.slice(0, 200)}`)
    }
  }
  return { samples, types }
}

function parseSample (line: string): Sample {
  const n = NAME.exec(line)
  if (n == null) throw new Error('no metric name')
  let rest = line.slice(n[0].length)
  const labels: Record<string, string> = {}
  if (rest.startsWith('{')) {
    rest = rest.slice(1)
    while (!rest.trimStart().startsWith('}')) {
      const l = LABEL.exec(rest)
      if (l == null) throw new Error('bad label')
      labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => c === 'n' ? '\n' : c)
      rest = rest.slice(l[0].length)
    }
    rest = rest.trimStart().slice(1)
  }
  const parts = rest.trim().split(/\s+/)
  if (parts.length < 1 || parts.length > 2 || parts[0] === '') throw new Error('no value')
  const value = parseValue(parts[0])
  return { name: n[0], labels, value }
}

// case-insensitive like Prometheus's own parser (Go's ParseFloat): prom-client writes "Nan"
function parseValue (s: string): number {
  const l = s.toLowerCase()
  if (l === '+inf' || l === 'inf') return Infinity
  if (l === '-inf') return -Infinity
  if (l === 'nan') return NaN
  const v = Number(s)
  if (Number.isNaN(v)) throw new Error(`bad value ${s}`)
  return v
}

/** the samples of `name` whose labels include `labels` */
export function select (e: Exposition, name: string, labels: Record<string, string> = {}): Sample[] {
  return e.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}

/** sum of the matching samples' values (0 when there are none) */
export function total (e: Exposition, name: string, labels: Record<string, string> = {}): number {
  return select(e, name, labels).reduce((a, s) => a + s.value, 0)
}
