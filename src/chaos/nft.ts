// OS-level packet drops with nftables, in tables of our own so the host's firewall is never
// touched and one `delete table` heals everything. Drops sit on the input hook: with
// output-hook drops traffic resumed ≈ 0.1 s after heal instead of the ≈ 12 s a real network
// takes (NOTES: "Faults on one machine"). Ruleset text and parsing are pure functions (unit
// tested); only apply/read/delete run `nft`, optionally inside a network namespace.
//
// Tables per cluster dir: `bellwether_<8 hex of sha256(abs dir)>` holds the partition (replaced
// whole on every partition) and `…_loss` the packet loss, so one can change without the other.

import { createHash } from 'node:crypto'
import { isIPv4 } from 'node:net'
import { resolve } from 'node:path'
import { deniedRun, findTool, firstLine, runTool, type ToolRun } from '../cluster/exec.js'
import type { CutPlan } from './shapes.js'

export const TABLE_PREFIX = 'bellwether_'
export const FAMILY = 'inet'
const CHAIN = 'input'
const LOSS_SUFFIX = '_loss'

/** bellwether_<8 hex>: the same dir always maps to the same table, from any cwd. */
export function clusterTableName (dir: string): string {
  return TABLE_PREFIX + createHash('sha256').update(resolve(dir)).digest('hex').slice(0, 8)
}

export function lossTableName (dir: string): string {
  return clusterTableName(dir) + LOSS_SUFFIX
}

/** Drop packets from saddr (to daddr, or to anyone when daddr is absent) on arrival. */
export interface Drop { saddr: string; daddr?: string }

/**
 * Every ordered pair of a cut plan: input-hook rules only see arriving packets, so each
 * direction needs its own rule. Nodes with no address (ipOf → undefined) are left out.
 */
export function planDrops (plan: CutPlan, ipOf: (index: number) => string | undefined): Drop[] {
  const drops: Drop[] = []
  const seen = new Set<string>()
  for (const [i, cut] of plan) {
    for (const j of cut) {
      for (const [a, b] of [[i, j], [j, i]] as const) {
        const saddr = ipOf(a)
        const daddr = ipOf(b)
        if (saddr === undefined || daddr === undefined || seen.has(`${saddr}>${daddr}`)) continue
        seen.add(`${saddr}>${daddr}`)
        drops.push({ saddr, daddr })
      }
    }
  }
  return drops.sort((x, y) => ipKey(x.saddr) - ipKey(y.saddr) || ipKey(x.daddr ?? '0.0.0.0') - ipKey(y.daddr ?? '0.0.0.0'))
}

/**
 * One `nft -f` transaction that replaces the table whatever its state: declaring it first makes
 * the delete valid when it does not exist yet, and the new content lands in the same commit,
 * so there is never a moment with the old and new partition mixed or with no partition.
 */
export function cutRuleset (table: string, drops: Drop[], comment?: string): string {
  checkTableName(table)
  const rules = drops.map((d) => {
    checkAddr(d.saddr)
    if (d.daddr !== undefined) checkAddr(d.daddr)
    return `ip saddr ${d.saddr}${d.daddr !== undefined ? ` ip daddr ${d.daddr}` : ''} drop`
  })
  return tableText(table, rules, comment)
}

/** Random loss of `percent` % of the packets that match the address filters. */
export interface Loss {
  percent: number
  /** addresses or CIDRs; absent: any source */
  saddr?: string[]
  /** sources exempt from the loss (the CLI's own address in a namespace cluster) */
  saddrNot?: string[]
  /** addresses or CIDRs; absent: any destination */
  daddr?: string[]
}

export function lossRuleset (table: string, loss: Loss, comment?: string): string {
  checkTableName(table)
  if (!Number.isInteger(loss.percent) || loss.percent < 1 || loss.percent > 100) {
    throw new Error(`loss percent must be an integer in 1..100, got ${loss.percent}`)
  }
  const parts: string[] = []
  if (loss.saddr !== undefined) parts.push(`ip saddr ${addrSet(loss.saddr)}`)
  if (loss.saddrNot !== undefined && loss.saddrNot.length > 0) parts.push(`ip saddr != ${addrSet(loss.saddrNot)}`)
  if (loss.daddr !== undefined) parts.push(`ip daddr ${addrSet(loss.daddr)}`)
  // numgen's range is 0..99: "< 100" is rejected, and 100 % is a plain drop anyway
  if (loss.percent < 100) parts.push(`numgen random mod 100 < ${loss.percent}`)
  parts.push('drop')
  return tableText(table, [parts.join(' ')], comment)
}

function tableText (table: string, rules: string[], comment?: string): string {
  const lines = [
    `table ${FAMILY} ${table}`,
    `delete table ${FAMILY} ${table}`,
    `table ${FAMILY} ${table} {`
  ]
  if (comment !== undefined) lines.push(`\tcomment "${safeComment(comment)}"`)
  lines.push(
    `\tchain ${CHAIN} {`,
    '\t\ttype filter hook input priority filter; policy accept;',
    ...rules.map((r) => `\t\t${r}`),
    '\t}',
    '}'
  )
  return lines.join('\n') + '\n'
}

function addrSet (addrs: string[]): string {
  if (addrs.length === 0) throw new Error('an address set cannot be empty')
  for (const a of addrs) checkAddr(a)
  return addrs.length === 1 ? addrs[0]! : `{ ${addrs.join(', ')} }`
}

/** An IPv4 address or CIDR: the only thing we ever splice into a ruleset. */
function checkAddr (a: string): void {
  const m = /^([0-9.]+)(?:\/([0-9]{1,2}))?$/.exec(a)
  if (m === null || !isIPv4(m[1]!) || (m[2] !== undefined && Number(m[2]) > 32)) throw new Error(`not an IPv4 address or CIDR: '${a}'`)
}

function checkTableName (t: string): void {
  if (!/^[A-Za-z0-9_]{1,64}$/.test(t)) throw new Error(`bad nft table name '${t}'`)
}

/** nft comments are quoted, at most 128 bytes; keep printable ASCII without quotes. */
function safeComment (c: string): string {
  return c.replace(/[^A-Za-z0-9 _./:,+=@-]/g, '_').slice(0, 120)
}

function ipKey (ip: string): number {
  return ip.split('/')[0]!.split('.').reduce((acc, o) => acc * 256 + Number(o), 0)
}

// ---- reading back -------------------------------------------------------------------------

/** One rule of our tables, as far as we understand it; anything else is kept as `other`. */
export interface ParsedRule {
  saddr?: string[]
  saddrNot?: string[]
  daddr?: string[]
  /** for a random-loss rule; 100 for a rule that drops everything it matches */
  percent?: number
  verdict: string
  other?: boolean
}

export interface NftTable {
  family: string
  name: string
  rules: ParsedRule[]
}

/** `nft -j list table …` output → our view of it (pure). */
export function parseTableJson (text: string): NftTable | null {
  const doc = JSON.parse(text) as { nftables?: Array<Record<string, any>> }
  let head: { family: string; name: string } | null = null
  const rules: ParsedRule[] = []
  for (const item of doc.nftables ?? []) {
    if (item.table !== undefined) head = { family: item.table.family, name: item.table.name }
    if (item.rule === undefined) continue
    head ??= { family: item.rule.family, name: item.rule.table }
    rules.push(parseRule(item.rule.expr ?? []))
  }
  return head === null ? null : { ...head, rules }
}

function parseRule (exprs: Array<Record<string, any>>): ParsedRule {
  const rule: ParsedRule = { verdict: 'none', percent: 100 }
  for (const e of exprs) {
    if ('drop' in e) rule.verdict = 'drop'
    else if ('accept' in e) rule.verdict = 'accept'
    else if (e.match !== undefined) {
      const { op, left, right } = e.match
      if (left?.payload?.protocol === 'ip' && (left.payload.field === 'saddr' || left.payload.field === 'daddr')) {
        const addrs = addrsOf(right)
        const key = op === '==' ? left.payload.field as 'saddr' | 'daddr' : op === '!=' && left.payload.field === 'saddr' ? 'saddrNot' : null
        if (addrs === null || key === null) rule.other = true
        else rule[key] = [...(rule[key] ?? []), ...addrs]
      } else if (left?.numgen !== undefined && op === '<' && left.numgen.mod === 100 && typeof right === 'number') {
        rule.percent = right
      } else {
        rule.other = true
      }
    } else {
      rule.other = true
    }
  }
  return rule
}

function addrsOf (right: unknown): string[] | null {
  if (typeof right === 'string') return [right]
  if (typeof right !== 'object' || right === null) return null
  const r = right as Record<string, any>
  if (r.prefix !== undefined) return [`${r.prefix.addr}/${r.prefix.len}`]
  if (Array.isArray(r.set)) {
    const out: string[] = []
    for (const x of r.set) {
      const a = addrsOf(x)
      if (a === null) return null
      out.push(...a)
    }
    return out
  }
  return null
}

/** The cuts of a table written by cutRuleset: plain drops with no loss. */
export function tableDrops (t: NftTable): Drop[] {
  const out: Drop[] = []
  for (const r of t.rules) {
    if (r.verdict !== 'drop' || r.other === true || r.percent !== 100 || r.saddrNot !== undefined) continue
    for (const s of r.saddr ?? []) {
      if (r.daddr === undefined) out.push({ saddr: s })
      else for (const d of r.daddr) out.push({ saddr: s, daddr: d })
    }
  }
  return out
}

/** `nft -j list tables` output → names of the inet tables that are ours (pure). */
export function ourTableNames (text: string): string[] {
  const doc = JSON.parse(text) as { nftables?: Array<Record<string, any>> }
  return (doc.nftables ?? [])
    .filter((x) => x.table?.family === FAMILY && typeof x.table.name === 'string' && x.table.name.startsWith(TABLE_PREFIX))
    .map((x) => x.table.name as string)
    .sort()
}

// ---- running nft ---------------------------------------------------------------------------

export type NftFailure = 'missing' | 'denied' | 'failed'

export class NftError extends Error {
  override name = 'NftError'
  constructor (message: string, readonly kind: NftFailure) {
    super(message)
  }
}

/** Where to run: the root namespace, or a named network namespace (through `ip netns exec`). */
export interface NftWhere { netns?: string }

async function nft (args: string[], where: NftWhere = {}, stdin?: string): Promise<ToolRun> {
  const bin = findTool('nft')
  if (bin === null) {
    throw new NftError('nft (nftables) is not installed; install the nftables package, or use --mode app', 'missing')
  }
  const r = where.netns === undefined
    ? await runTool('nft', args, { stdin })
    : await runTool('ip', ['netns', 'exec', where.netns, bin, ...args], { stdin })
  if (r.missing === true) throw new NftError(`cannot run ${where.netns === undefined ? 'nft' : 'ip'}: ${r.stderr}`, 'missing')
  if (r.code !== 0 && deniedRun(r)) {
    throw new NftError(`nft needs root (CAP_NET_ADMIN): ${firstLine(r.stderr)}; run as root, or use --mode app`, 'denied')
  }
  return r
}

function where (w: NftWhere): string {
  return w.netns === undefined ? '' : ` in netns ${w.netns}`
}

/** Applies a ruleset from cutRuleset/lossRuleset: all or nothing. */
export async function applyRuleset (text: string, w: NftWhere = {}): Promise<void> {
  const r = await nft(['-f', '-'], w, text)
  if (r.code !== 0) throw new NftError(`nft -f failed${where(w)}: ${firstLine(r.stderr) || `exit ${r.code}`}`, 'failed')
}

/** true when it was there; false when there was nothing to delete. */
export async function deleteTable (name: string, w: NftWhere = {}): Promise<boolean> {
  checkTableName(name)
  const r = await nft(['delete', 'table', FAMILY, name], w)
  if (r.code === 0) return true
  if (/No such file or directory/.test(r.stderr)) return false
  throw new NftError(`cannot delete table ${FAMILY} ${name}${where(w)}: ${firstLine(r.stderr)}`, 'failed')
}

/** null when the table does not exist. */
export async function readTable (name: string, w: NftWhere = {}): Promise<NftTable | null> {
  checkTableName(name)
  const r = await nft(['-j', 'list', 'table', FAMILY, name], w)
  if (r.code !== 0) {
    if (/No such file or directory/.test(r.stderr)) return null
    throw new NftError(`cannot list table ${FAMILY} ${name}${where(w)}: ${firstLine(r.stderr)}`, 'failed')
  }
  return parseTableJson(r.stdout)
}

/** Every inet table named bellwether_… (in the root namespace unless told otherwise). */
export async function listOurTables (w: NftWhere = {}): Promise<string[]> {
  const r = await nft(['-j', 'list', 'tables'], w)
  if (r.code !== 0) throw new NftError(`nft list tables failed${where(w)}: ${firstLine(r.stderr)}`, 'failed')
  return r.stdout.trim() === '' ? [] : ourTableNames(r.stdout)
}

/** Deletes every bellwether_ table (leftovers of crashed runs, any cluster); returns their names. */
export async function cleanupAllTables (w: NftWhere = {}): Promise<string[]> {
  const names = await listOurTables(w)
  const gone: string[] = []
  for (const n of names) if (await deleteTable(n, w)) gone.push(n)
  return gone
}

/** Why nft cannot be used here (not installed, not root), or null when it can. */
export async function nftUnavailable (): Promise<string | null> {
  try {
    await listOurTables()
    return null
  } catch (err) {
    return (err as Error).message
  }
}
