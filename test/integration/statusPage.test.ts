// The live status page (`GET /`) rendered by a real headless browser (Debian's chromium driven
// by playwright-core) against real in-process nodes over TCP: it lists the members, and shows
// a partition from the side of a node that is cut off. Needs /usr/bin/chromium (.ci/run
// installs it): outside CI its absence skips these tests, under CI it fails them.
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chromium, type Browser, type Page } from 'playwright-core'
import { InprocCluster, heal, partition, waitFor } from '../helpers/inproc.js'
import { prerequisite } from '../helpers/prereq.js'

const CHROMIUM = process.env.BELLWETHER_CHROMIUM ?? '/usr/bin/chromium'
const SKIP = prerequisite('statusPage.test.ts', 'the status page tests (a chromium binary)', existsSync(CHROMIUM) ? null : `no ${CHROMIUM} (apt-get install chromium)`)

describe.skipIf(SKIP)('status page in headless chromium (3 nodes, 127.0.0.190-192)', { timeout: 180_000 }, () => {
  let c: InprocCluster
  let browser: Browser
  let page: Page
  beforeAll(async () => {
    c = await InprocCluster.start(3, { copies: 3, ipBase: 190 })
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] })
    page = await browser.newPage()
  }, 120_000)
  afterAll(async () => {
    await browser?.close()
    await c?.stop()
  })

  /** the members table as the browser rendered it: [peer title, status, from here] per row */
  async function members (): Promise<string[][]> {
    return await page.$$eval('table.members tbody tr', (rows) => rows.map((r) => {
      const cells = Array.from(r.querySelectorAll('td'))
      return [cells[0].querySelector('span')?.getAttribute('title') ?? '', cells[1].textContent ?? '', cells[10].textContent ?? '']
    }))
  }

  it('lists the three members, each alive, and says the cluster converged', async () => {
    await c.waitMembers()
    const url = `http://${c.specs[0].ip}:${c.specs[0].api}/`
    const res = await page.goto(url)
    expect(res?.status()).toBe(200)
    expect(await page.title()).toMatch(/^bellwether …\S{8} · epoch \d+$/)
    const ids = [0, 1, 2].map((i) => c.node(i).peerId).sort()
    expect(await members()).toEqual(ids.map((id) => [id, 'alive', '']))
    await waitFor(async () => {
      await page.reload()
      return (await page.textContent('#verdict'))?.startsWith('converged') === true
    }, 60_000, 'the page to say converged')
    // it reloads itself
    expect(await page.$eval('meta[http-equiv="refresh"]', (m) => m.getAttribute('content'))).toBe('2')
  })

  it('shows a partition from the cut-off side', async () => {
    await c.waitMembers()
    await partition(c, [[0, 1], [2]])
    try {
      const url = `http://${c.specs[2].ip}:${c.specs[2].api}/`
      await page.goto(url)
      const cut = [c.node(0).peerId, c.node(1).peerId]
      const rows = await members()
      expect(rows.filter((r) => r[2] === 'partitioned').map((r) => r[0]).sort()).toEqual(cut.sort())
      expect(rows.find((r) => r[0] === c.node(2).peerId)?.[2]).toBe('')
      expect(await page.textContent('#verdict')).toBe('cut off from 2 members')
      expect(await page.$eval('#verdict', (e) => e.className)).toBe('bad')
    } finally {
      await heal(c)
    }
    const url = `http://${c.specs[2].ip}:${c.specs[2].api}/`
    await waitFor(async () => {
      await page.goto(url)
      return (await members()).every((r) => r[2] === '')
    }, 60_000, 'the partition to leave the page')
  })
})
