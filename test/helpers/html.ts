// A small, strict parser for the HTML our reports write (tests only): elements, attributes and
// text into a tree, throwing on a tag that closes what it did not open, so a test that reads a
// report through it also proves the page is well-formed. Void elements (meta, br, …) and
// self-closing SVG tags are understood; <style> and <script> contents are kept as raw text.
export interface El { tag: string; attrs: Record<string, string>; children: Array<El | string>; parent?: El }

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link'])
const RAW = new Set(['style', 'script'])

export function parseHtml (html: string): El {
  const root: El = { tag: '#root', attrs: {}, children: [] }
  let cur = root
  let i = 0
  const text = (t: string): void => { if (t !== '') cur.children.push(decode(t)) }
  while (i < html.length) {
    const lt = html.indexOf('<', i)
    if (lt < 0) { text(html.slice(i)); break }
    text(html.slice(i, lt))
    if (html.startsWith('<!--', lt)) { i = html.indexOf('-->', lt) + 3; continue }
    if (html.startsWith('<!', lt)) { i = html.indexOf('>', lt) + 1; continue }
    const gt = html.indexOf('>', lt)
    if (gt < 0) throw new Error(`unterminated tag at ${lt}`)
    const body = html.slice(lt + 1, gt)
    i = gt + 1
    if (body.startsWith('/')) {
      const name = body.slice(1).trim().toLowerCase()
      if (cur.tag !== name) throw new Error(`</${name}> closes <${cur.tag}> at ${lt}`)
      cur = cur.parent!
      continue
    }
    const m = /^([a-zA-Z][a-zA-Z0-9-]*)/.exec(body)
    if (m === null) throw new Error(`bad tag <${body.slice(0, 20)}> at ${lt}`)
    const tag = m[1]!.toLowerCase()
    const attrs: Record<string, string> = {}
    const re = /([a-zA-Z_:][a-zA-Z0-9_:.-]*)(?:="([^"]*)")?/g
    re.lastIndex = m[0].length
    for (let a = re.exec(body); a !== null; a = re.exec(body)) attrs[a[1]!] = decode(a[2] ?? '')
    const el: El = { tag, attrs, children: [], parent: cur }
    cur.children.push(el)
    if (body.endsWith('/') || VOID.has(tag)) continue
    if (RAW.has(tag)) {
      const end = html.indexOf(`</${tag}>`, i)
      if (end < 0) throw new Error(`<${tag}> never closed`)
      el.children.push(html.slice(i, end))
      i = end + tag.length + 3
      continue
    }
    cur = el
  }
  if (cur !== root) throw new Error(`<${cur.tag}> never closed`)
  return root
}

export function findAll (el: El, pred: (e: El) => boolean, out: El[] = []): El[] {
  for (const c of el.children) {
    if (typeof c === 'string') continue
    if (pred(c)) out.push(c)
    findAll(c, pred, out)
  }
  return out
}

export function textOf (el: El): string {
  return el.children.map((c) => typeof c === 'string' ? c : textOf(c)).join('')
}

function decode (s: string): string {
  return s.replace(/&(amp|lt|gt|quot|#39);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" })[e]!)
}
