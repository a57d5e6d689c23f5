// `node --import ./test/helpers/moduleLog.mjs …`: appends the URL of every module the process
// resolves to the file named by MODULE_LOG, one per line (a resolve hook, which sees static and
// dynamic imports alike). Used to check which commands load libp2p.
import { appendFileSync } from 'node:fs'
import { register } from 'node:module'
import { isMainThread } from 'node:worker_threads'

// the hooks run on their own thread and load this file again: register only from the main one
if (isMainThread) register(import.meta.url)

export async function resolve (specifier, context, next) {
  const r = await next(specifier, context)
  if (process.env.MODULE_LOG !== undefined) appendFileSync(process.env.MODULE_LOG, `${r.url}\n`)
  return r
}
