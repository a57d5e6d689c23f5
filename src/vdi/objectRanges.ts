// Object index lists as users type them ("0-3,7,10-12") → sorted unique Uint32Array, and back.
// Counted before anything is allocated, so "0-4294967295" is a clear error, not 16 GB of RAM.
// The VDI layer's (a discard names objects of a VDI by index): the CLI, the admin API's
// discard route and the chaos history all speak this one form.

export const MAX_INDEX = 0xffff_ffff
/** Largest list the CLI will build: 4M indexes = 16 MiB, far beyond any test or demo. */
export const DEFAULT_MAX_OBJECTS = 1 << 22

export class ObjectRangeError extends Error {
  override name = 'ObjectRangeError'
}

const NUM_RE = /^[0-9]+$/

export function parseObjectRanges (text: string, maxCount = DEFAULT_MAX_OBJECTS): Uint32Array {
  const src = String(text)
  const bad = (why: string): ObjectRangeError =>
    new ObjectRangeError(`invalid object list '${src.length > 60 ? src.slice(0, 60) + '…' : src}': ${why}`)
  if (src.trim() === '') throw bad('empty (expected e.g. 0-3,7,10-12)')

  const num = (t: string): number => {
    const s = t.trim()
    if (!NUM_RE.test(s)) throw bad(`'${s}' is not a non-negative decimal index`)
    const v = s.length > 10 ? Infinity : Number(s)
    if (v > MAX_INDEX) throw bad(`index ${s} exceeds ${MAX_INDEX}`)
    return v
  }

  const spans: Array<[number, number]> = []
  for (const item of src.split(',')) {
    if (item.trim() === '') throw bad('empty item (stray comma?)')
    const dash = item.indexOf('-')
    if (dash < 0) {
      const v = num(item)
      spans.push([v, v])
      continue
    }
    if (item.indexOf('-', dash + 1) >= 0) throw bad(`'${item.trim()}' has more than one '-'`)
    const lo = num(item.slice(0, dash))
    const hi = num(item.slice(dash + 1))
    if (hi < lo) throw bad(`range ${lo}-${hi} is reversed`)
    spans.push([lo, hi])
  }

  spans.sort((a, b) => a[0] - b[0])
  const merged: Array<[number, number]> = []
  for (const [lo, hi] of spans) {
    const last = merged[merged.length - 1]
    if (last !== undefined && lo <= last[1] + 1) last[1] = Math.max(last[1], hi)
    else merged.push([lo, hi])
  }
  let count = 0
  for (const [lo, hi] of merged) count += hi - lo + 1
  if (count > maxCount) throw bad(`${count} objects, more than the limit of ${maxCount}`)

  const out = new Uint32Array(count)
  let k = 0
  for (const [lo, hi] of merged) for (let v = lo; v <= hi; v++) out[k++] = v
  return out
}

/** Compact text form of a sorted unique list: consecutive runs become "lo-hi". */
export function formatObjectRanges (indexes: Uint32Array): string {
  const parts: string[] = []
  let i = 0
  while (i < indexes.length) {
    let j = i
    while (j + 1 < indexes.length && indexes[j + 1] === indexes[j]! + 1) j++
    parts.push(j === i ? String(indexes[i]) : `${indexes[i]}-${indexes[j]}`)
    i = j + 1
  }
  return parts.join(',')
}
