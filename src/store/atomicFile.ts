// Crash-safe file writes shared by every restart-critical file (epoch, floor.json, peer.key,
// the delete log's compaction) and the object store: a uniquely named temp file in the same
// directory, fsynced, renamed (or linked, for create-only) over the target, then the directory
// fsynced. A crash leaves the old file or the new one, never a torn or empty one; a temp file
// left by a crash is removed at the next start (removeTempFiles). Unique names because two
// writers of one file must never share a temp file (one would rename the other's half-write).
import { randomBytes } from 'node:crypto'
import { link, open, readdir, rename, unlink } from 'node:fs/promises'
import type { FileHandle } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'

/** what follows a file's name in its temp files' names */
export const TEMP_SUFFIX = '.tmp-'

export interface AtomicWriteOptions {
  /** fsync the file and the directory (default true); tests may turn it off */
  fsync?: boolean
  /** file mode of a new file (default 0o644) */
  mode?: number
  /** never replace an existing file: fail with EEXIST instead (link instead of rename) */
  createOnly?: boolean
}

/** a fresh temp name next to `path`, starting with `<name>.tmp-` */
export function tempPathFor (path: string): string {
  return join(dirname(path), `${basename(path)}${TEMP_SUFFIX}${process.pid}-${randomBytes(6).toString('hex')}`)
}

/**
 * Writes `path` so that it is either wholly the old content or wholly `data`, durably.
 * On failure (ENOSPC, EIO, …) the temp file is removed and the target is untouched.
 */
export async function writeFileAtomic (path: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const fsync = opts.fsync ?? true
  const tmp = tempPathFor(path)
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data
  try {
    await writeFileDurable(tmp, [bytes], { fsync, mode: opts.mode })
    // link fails with EEXIST where rename would replace: the create-only path
    if (opts.createOnly === true) await link(tmp, path)
    else await rename(tmp, path)
  } catch (err) {
    await unlink(tmp).catch(noop)
    throw err
  }
  if (opts.createOnly === true) await unlink(tmp).catch(noop)
  if (fsync) await syncDir(dirname(path))
}

/**
 * Creates `path` (which must not exist), writes `chunks`, fsyncs, closes. A failure leaves
 * a partial file: the caller removes it (it is a temp file).
 */
export async function writeFileDurable (path: string, chunks: Uint8Array[], opts: { fsync?: boolean, mode?: number } = {}): Promise<void> {
  const fh = await open(path, 'wx', opts.mode ?? 0o644)
  try {
    let pos = 0
    for (const c of chunks) { await writeAll(fh, c, pos); pos += c.byteLength }
    if (opts.fsync ?? true) await fh.sync()
  } finally {
    await fh.close()
  }
}

/** Makes the directory's entries (a create, rename or unlink in it) durable. */
export async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/**
 * Removes the files in `dir` whose names start with `prefix` (temp files a crash left
 * behind; never acknowledged, so safe to drop). Returns the names removed.
 */
export async function removeTempFiles (dir: string, prefix: string): Promise<string[]> {
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw err
  }
  const gone: string[] = []
  for (const name of names) {
    if (!name.startsWith(prefix)) continue
    try {
      await unlink(join(dir, name))
      gone.push(name)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }
  return gone
}

/** writes all of `buf` at `position` (a short write is continued, not dropped) */
export async function writeAll (fh: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let off = 0
  while (off < buf.byteLength) {
    const { bytesWritten } = await fh.write(buf, off, buf.byteLength - off, position + off)
    off += bytesWritten
  }
}

function noop (): void {}
