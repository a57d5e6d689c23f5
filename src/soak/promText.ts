// Reads the Prometheus text exposition format a node's /metrics serves, keeping only the
// metric families asked for (a soak records a few dozen numbers per scrape, not every GC
// bucket). Lenient and bounded: comments, unknown families, malformed lines and lines over
// MAX_LINE are skipped, never thrown; at most MAX_SAMPLES samples are kept per scrape.
// A sample's key is its name plus its labels, sorted: `bw_rejected_total{kind="gossip"}`.

export const MAX_LINE = 4096
export const MAX_SAMPLES = 500

/**
 * Samples of the wanted families: a family `x` also brings `x_sum`, `x_count` (histograms,
 * summaries) and `x_total`; histogram buckets (`x_bucket`) are left out.
 */
export function parsePromText (text: string, wanted: readonly string[]): Record<string, number> {
  const want = new Set(wanted)
  const out: Record<string, number> = {}
  let kept = 0
  for (const raw of text.split('\n')) {
    if (kept >= MAX_SAMPLES) break
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.length > MAX_LINE) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(?:\s+-?[0-9]+)?$/.exec(line)
    if (m === null) continue
    const name = m[1]!
    if (!want.has(name) && !want.has(name.replace(/_(sum|count|total)$/, ''))) continue
    const value = parseValue(m[3]!)
    if (value === undefined) continue
    const labels = m[2] === undefined ? '' : canonicalLabels(m[2])
    if (labels === undefined) continue
    out[name + labels] = value
    kept++
  }
  return out
}

function parseValue (s: string): number | undefined {
  if (s === '+Inf') return Infinity
  if (s === '-Inf') return -Infinity
  if (s === 'NaN') return undefined
  const v = Number(s)
  return Number.isFinite(v) ? v : undefined
}

/** `{b="2",a="1"}` → `{a="1",b="2"}`; undefined when malformed */
function canonicalLabels (s: string): string | undefined {
  const body = s.slice(1, -1).trim()
  if (body === '') return ''
  const pairs: string[] = []
  const re = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y
  let i = 0
  while (i < body.length) {
    re.lastIndex = i
    const m = re.exec(body)
    if (m === null) return undefined
    pairs.push(`${m[1]}="${m[2]}"`)
    i = re.lastIndex
  }
  return `{${pairs.sort().join(',')}}`
}

/** the base family of a key: `bw_rejected_total{kind="x"}` → `bw_rejected_total` */
export function familyOf (key: string): string {
  const i = key.indexOf('{')
  return i < 0 ? key : key.slice(0, i)
}

/** the value of one label in a key, if it has it */
export function labelOf (key: string, label: string): string | undefined {
  const m = new RegExp(`[{,]${label}="((?:[^"\\\\]|\\\\.)*)"`).exec(key)
  return m?.[1]
}
