// Node 20 has no Promise.withResolvers; libp2p's peer store (it-queue) calls it on the first
// dial. The polyfill must be in place in a fresh Node process before libp2p loads.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../', import.meta.url))

describe('Node 20 polyfill', () => {
  it('provides a working Promise.withResolvers', async () => {
    const { promise, resolve } = (Promise as any).withResolvers()
    resolve(42)
    expect(await promise).toBe(42)
  })

  it('lets a libp2p host start and dial in a fresh Node process (no test setup)', () => {
    const script = `
      import('${root}dist/polyfill.js').then(async () => {
        const { createHost } = await import('${root}dist/net/host.js')
        const { generateKeyPair } = await import('@libp2p/crypto/keys')
        const a = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: '127.0.0.61:0', bootstrap: [] })
        const b = await createHost({ privateKey: await generateKeyPair('Ed25519'), listen: '127.0.0.62:0', bootstrap: [] })
        await a.start(); await b.start()
        await a.dial(b.getMultiaddrs()[0])
        console.log('dialed', process.version, a.getConnections().length)
        await a.stop(); await b.stop()
      }).catch((e) => { console.error(e); process.exit(1) })`
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', timeout: 30_000 })
    expect(r.stderr).not.toMatch(/withResolvers is not a function/)
    expect(r.stdout).toMatch(new RegExp(`dialed ${process.version} 1`))
    expect(r.status).toBe(0)
  })
})
