// `bellwether node start`: one node in the foreground until SIGTERM/SIGINT. The node module
// is imported only here, so the other commands never pay for loading libp2p.

import { Command, InvalidArgumentError, Option } from 'commander'
import type { NodeOptions } from '../../node/options.js'
import { LOG_LEVELS, action, hostPortArg, intArg, printerFor, type Ctx } from './shared.js'
import { CliError, EXIT } from '../output.js'
import { SWARM_KEY_ENV, SwarmKeyError, readSwarmKey } from '../../net/swarmKey.js'
import { API_TOKEN_ENV, ApiTokenError, readApiToken } from '../../api/token.js'

/** a missing, unreadable or lax-mode secret is the user's to fix: a usage error, not a crash */
async function secret<T> (read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (err) {
    if (err instanceof SwarmKeyError || err instanceof ApiTokenError) throw new CliError(err.message, EXIT.USAGE)
    throw err
  }
}

interface StartOpts {
  data: string
  listen: string
  api: string
  bootstrap?: string[]
  zone?: number
  copies?: number
  logLevel?: string
  clockOffset?: number
  pubsub?: 'gossipsub' | 'floodsub'
  evictAfter?: number
  heartbeatsPerSec?: number
  recoveryParallel?: number
  recoveryRate?: number
  swarmKey?: string
  openNetwork?: boolean
  apiTokenFile?: string
  enableChaos?: boolean
  json?: boolean
}

export function nodeCommand (ctx: Ctx): Command {
  const node = new Command('node').description('run a storage node')
  node.command('start')
    .description('run one node in the foreground; stops cleanly on SIGTERM/SIGINT')
    .requiredOption('--data <dir>', 'data dir (objects, delete log, peer key)')
    .requiredOption('--listen <host:port>', 'libp2p TCP listen address; also the dial source address', hostPortArg('--listen'))
    .requiredOption('--api <host:port>', 'admin HTTP API address (loopback)', hostPortArg('--api'))
    .option('--bootstrap <multiaddr...>', 'peers to join through (/ip4/A/tcp/P/p2p/ID)', multiaddrArg)
    .option('--zone <n>', 'failure domain (default: derived from the listen address)', intArg('zone', 0, 0xffffffff))
    .option('--copies <c>', 'default copies for VDIs created through this node', intArg('copies', 1, 255))
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .option('--clock-offset <ms>', 'add this to the wall clock (clock-skew testing)', intArg('clock offset', -(2 ** 40), 2 ** 40))
    .option('--recovery-parallel <n>', 'recovery transfers in flight at once (default 8)', intArg('recovery parallel', 1, 256))
    .option('--recovery-rate <MiB/s>', 'recovery throttle over all transfers, MiB/s; 0 = unthrottled (default 64)', intArg('recovery rate', 0, 1_000_000))
    .option('--heartbeats-per-sec <n>', 'heartbeats each node receives per second: periods and failure timeouts stretch with the cluster size (default 5); 0 = a beat a second whatever the size (benchmark baseline)', intArg('heartbeats per sec', 0, 1000))
    .option('--evict-after <ms>', 'a member silent this long leaves for good so tombstone GC can advance (default 24 h)', intArg('evict after', 1000, 2 ** 40))
    .addOption(new Option('--pubsub <impl>', 'pubsub implementation (floodsub only as a benchmark baseline)').choices(['gossipsub', 'floodsub']).hideHelp())
    .addOption(new Option('--swarm-key <file>', 'the cluster\'s swarm key (mode 0600): only nodes holding it can connect').env(SWARM_KEY_ENV))
    .option('--open-network', 'run without a swarm key: anyone who can reach the listen address can join and delete')
    .addOption(new Option('--api-token-file <file>', 'admin API token destructive calls must present (default: DATA/api.token, made once)').env(API_TOKEN_ENV))
    .option('--enable-chaos', 'serve /chaos/* (partition, heal, clock skew): for chaos runs and tests')
    .option('--json', 'print the ready line as JSON')
    .action(action(ctx, async (opts: StartOpts) => await start(ctx, opts)))
  return node
}

function multiaddrArg (value: string, prev: string[] | undefined): string[] {
  if (!value.startsWith('/') || !value.includes('/p2p/')) {
    throw new InvalidArgumentError(`bootstrap address '${value}' must be a multiaddr with /p2p/<peer id>`)
  }
  return [...(prev ?? []), value]
}

async function start (ctx: Ctx, o: StartOpts): Promise<number> {
  const p = printerFor(ctx, o)
  if (o.swarmKey === undefined && o.openNetwork !== true) {
    throw new CliError('a node needs the cluster\'s swarm key: --swarm-key FILE (or BELLWETHER_SWARM_KEY_FILE; `cluster up` makes DIR/swarm.key), ' +
      'or --open-network to let anyone who reaches the listen address join and delete', EXIT.USAGE)
  }
  if (o.swarmKey !== undefined && o.openNetwork === true) throw new CliError('--swarm-key and --open-network contradict each other', EXIT.USAGE)
  const swarmKey = o.swarmKey === undefined ? undefined : await secret(async () => await readSwarmKey(o.swarmKey!))
  const apiToken = o.apiTokenFile === undefined ? undefined : await secret(async () => await readApiToken(o.apiTokenFile!))
  const nodeOpts: NodeOptions = {
    dataDir: o.data,
    listen: o.listen,
    api: o.api,
    bootstrap: o.bootstrap ?? [],
    zone: o.zone,
    copies: o.copies,
    logLevel: o.logLevel,
    clockOffsetMs: o.clockOffset,
    pubsub: o.pubsub,
    evictAfterMs: o.evictAfter,
    heartbeatsPerSec: o.heartbeatsPerSec,
    recoveryParallel: o.recoveryParallel,
    recoveryRate: o.recoveryRate === undefined ? undefined : o.recoveryRate * 1024 * 1024,
    swarmKey,
    apiToken,
    enableChaos: o.enableChaos === true
  }
  const { startNode } = await import('../../node/start.js')
  const { installProcessGuard } = await import('../../node/processGuard.js')
  const { createLogger } = await import('../../log.js')
  // the last line: a bug that lets an error escape a handler or timer is logged and counted, not a silent death
  const guard = installProcessGuard({ log: createLogger('bellwether', o.logLevel) })
  // signals that arrive while the node is still starting must not be lost
  let stopSignal: NodeJS.Signals | undefined
  let wake: (() => void) | undefined
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopSignal !== undefined) {
      // a second signal: the user wants out now, even if stop() hangs
      p.error(`${sig} again: exiting without a clean stop`)
      process.exit(1)
    }
    stopSignal = sig
    wake?.()
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  try {
    const running = await startNode(nodeOpts)
    guard.attach({ log: running.node.log, metrics: running.node.metrics })
    if (o.json === true) {
      ctx.io.stdout.write(JSON.stringify({ event: 'ready', peerId: running.peerId, multiaddrs: running.multiaddrs, apiUrl: running.apiUrl }) + '\n')
    } else {
      p.line(`bellwether node ready: peer ${running.peerId} addrs ${running.multiaddrs.join(' ')} api ${running.apiUrl}`)
    }
    if (stopSignal === undefined) await new Promise<void>((resolve) => { wake = resolve })
    await running.stop()
    p.note(`bellwether node stopped (${stopSignal})`)
    return 0
  } finally {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    guard.uninstall()
  }
}
