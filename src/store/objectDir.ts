// The object directory's names: a file named by an oid's canonical 16-digit hex is that
// object, a `.tmp-` file is a put that never reached its rename, anything else is a stray
// (left alone, only counted). One scan sorts them, for the store's open and for `check`.
import { readdir } from 'node:fs/promises'
import type { Dirent } from 'node:fs'
import type { OidSet } from '../idset.js'
import { formatOid, isValidOid, parseOid } from '../oid.js'

/** a put writes `<TMP_PREFIX><oid hex>-<random>` and renames it to `<oid hex>` once durable */
export const TMP_PREFIX = '.tmp-'
const OID_NAME = /^[0-9a-f]{16}$/

/** adds every object in `dir` to `into`; returns the temp files' names and how many strays there are */
export async function scanObjectDir (dir: string, into: OidSet): Promise<{ temps: string[], strays: number }> {
  const temps: string[] = []
  let strays = 0
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const kind = classify(entry)
    if (kind === 'tmp') temps.push(entry.name)
    else if (kind === 'stray') strays++
    else into.add(kind)
  }
  return { temps, strays }
}

/** A directory entry is an object (its oid), a temp file, or a stray. */
function classify (entry: Dirent): bigint | 'tmp' | 'stray' {
  if (!entry.isFile()) return 'stray'
  if (entry.name.startsWith(TMP_PREFIX)) return 'tmp'
  if (!OID_NAME.test(entry.name)) return 'stray'
  try {
    const oid = parseOid(entry.name)
    // Only the canonical spelling counts, so one oid can never have two files.
    return isValidOid(oid) && formatOid(oid) === entry.name ? oid : 'stray'
  } catch {
    return 'stray'
  }
}
