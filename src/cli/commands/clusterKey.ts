// `bellwether cluster rotate-key`: moves a running local cluster onto a new swarm key by a
// rolling restart. pnet has one key per connection and no overlap, so while the restart
// runs, the nodes already on the new key and those still on the old one cannot reach each
// other: the cluster is partitioned along that line until the last node is restarted, and
// anti-entropy then brings the two sides' deletes together as after any partition. The new
// key is written to DIR/swarm.key.next first, so an interrupted rotation can be run again and
// finishes on the same key; it replaces DIR/swarm.key only once every running node holds it.
import { Command } from 'commander'
import { access, rename } from 'node:fs/promises'
import { resolve } from 'node:path'
import { ApiClient } from '../../api/client.js'
import { CliError, EXIT } from '../output.js'
import { writeClusterFile } from '../../cluster/clusterFile.js'
import { isRunning, sleep, spawnNode, stopProcess } from '../../cluster/launcher.js'
import { clusterSecrets, nextSwarmKeyFile } from '../../cluster/secrets.js'
import { generateSwarmKey, readSwarmKey } from '../../net/swarmKey.js'
import { writeSecretFile } from '../../store/secretFile.js'
import { action, addDirJson, findNode, intArg, loadCluster, printerFor, runningNodes, type Ctx } from './shared.js'
import { launchOpts, waitForMembers } from './cluster.js'

const POLL_MS = 250

interface RotateOpts { dir: string; json?: boolean; timeout: number }

export function rotateKeyCommand (ctx: Ctx): Command {
  return addDirJson(new Command('rotate-key'))
    .description('move every running node onto a new swarm key, one node at a time (the two keys cannot talk meanwhile)')
    .option('--timeout <s>', 'seconds to wait for each node to come back, and for the membership at the end', intArg('--timeout', 1, 3600), 60)
    .action(action(ctx, async (o: RotateOpts) => await rotateKey(ctx, o)))
}

async function rotateKey (ctx: Ctx, o: RotateOpts): Promise<number> {
  const p = printerFor(ctx, o)
  const dir = resolve(o.dir)
  const file = await loadCluster(dir)
  const next = nextSwarmKeyFile(dir)
  try {
    await access(next)
    if (!o.json) p.note(`resuming an earlier rotation: ${next} exists`)
  } catch {
    await writeSecretFile(next, generateSwarmKey())
  }
  await readSwarmKey(next)
  const running = await runningNodes(file)
  const restarted: Array<{ index: number; pid: number | null }> = []
  for (const n of running) {
    const result = await stopProcess(n.pid, n.dataDir, o.timeout * 1000)
    if (result === 'stuck') throw new CliError(`node ${n.index} (pid ${n.pid}) did not stop; rotation halted, run it again`, EXIT.FAILURE)
    n.pid = spawnNode(n, launchOpts(dir, file, file.nodes.filter((x) => x !== n), next))
    const fresh = await loadCluster(dir)
    findNode(fresh, n.index).pid = n.pid
    await writeClusterFile(dir, fresh)
    await waitForApi(n.apiUrl, n.pid, n.dataDir, n.index, o.timeout * 1000)
    restarted.push({ index: n.index, pid: n.pid })
    if (!o.json) p.note(`node ${n.index} restarted on the new key (pid ${n.pid})`)
  }
  // stopped nodes start from DIR/swarm.key: from now on that is the new key
  await rename(next, clusterSecrets(dir).swarmKeyFile)
  const lag = await waitForMembers(running, running.length, o.timeout * 1000)
  if (lag.length > 0) {
    p.error(`after the rotation the nodes did not see each other within ${o.timeout} s:`)
    for (const l of lag) p.error('  ' + l)
    return EXIT.FAILURE
  }
  if (o.json) p.printJson({ rotated: restarted })
  else p.line(`swarm key rotated: ${restarted.length} node(s) restarted on it, ${file.nodes.length - restarted.length} stopped node(s) will start on it`)
  return EXIT.OK
}

/** a node alone on a new key cannot join anyone yet: its API answering is all we can wait for */
async function waitForApi (url: string, pid: number | null, dataDir: string, index: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (!(await isRunning(pid, dataDir))) throw new CliError(`node ${index} exited while restarting on the new key; see its node.log`, EXIT.FAILURE)
    try {
      await new ApiClient(url, 2_000).status()
      return
    } catch (err) {
      if (Date.now() >= deadline) throw new CliError(`node ${index} API did not come back within ${timeoutMs / 1000} s: ${(err as Error).message}`, EXIT.FAILURE)
    }
    await sleep(POLL_MS)
  }
}
