// Tests for the pure parts of src/chaos/nft.ts (ruleset text, cut plan → drops, reading
// `nft -j` output back) and src/chaos/netns.ts (names, subnet choice). Nothing here runs nft;
// test/integration/chaosOs.test.ts does, as root.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  TABLE_PREFIX, clusterTableName, cutRuleset, lossRuleset, lossTableName, ourTableNames, parseTableJson, planDrops, tableDrops
} from '../../src/chaos/nft.js'
import { bridgeNsName, hostIfName, netnsIdOf, netnsInfoFor, nodeIpOf, nodeNsName, pickSubnet } from '../../src/chaos/netns.js'
import { groupsPlan, seededRng, shapePlan, SHAPES } from '../../src/chaos/shapes.js'

const ipOf = (i: number): string => `127.0.0.${200 + i}`

describe('nft ruleset text', () => {
  it('replaces the table in one transaction, input hook, one drop per ordered pair', () => {
    const plan = groupsPlan([[0, 1, 2], [3, 4]])
    const text = cutRuleset('bellwether_0123abcd', planDrops(plan, ipOf), 'bellwether cuts /tmp/x')
    expect(text).toBe([
      'table inet bellwether_0123abcd',
      'delete table inet bellwether_0123abcd',
      'table inet bellwether_0123abcd {',
      '\tcomment "bellwether cuts /tmp/x"',
      '\tchain input {',
      '\t\ttype filter hook input priority filter; policy accept;',
      '\t\tip saddr 127.0.0.200 ip daddr 127.0.0.203 drop',
      '\t\tip saddr 127.0.0.200 ip daddr 127.0.0.204 drop',
      '\t\tip saddr 127.0.0.201 ip daddr 127.0.0.203 drop',
      '\t\tip saddr 127.0.0.201 ip daddr 127.0.0.204 drop',
      '\t\tip saddr 127.0.0.202 ip daddr 127.0.0.203 drop',
      '\t\tip saddr 127.0.0.202 ip daddr 127.0.0.204 drop',
      '\t\tip saddr 127.0.0.203 ip daddr 127.0.0.200 drop',
      '\t\tip saddr 127.0.0.203 ip daddr 127.0.0.201 drop',
      '\t\tip saddr 127.0.0.203 ip daddr 127.0.0.202 drop',
      '\t\tip saddr 127.0.0.204 ip daddr 127.0.0.200 drop',
      '\t\tip saddr 127.0.0.204 ip daddr 127.0.0.201 drop',
      '\t\tip saddr 127.0.0.204 ip daddr 127.0.0.202 drop',
      '\t}',
      '}',
      ''
    ].join('\n'))
  })

  it('an empty plan is an empty chain; source-only drops for namespaces', () => {
    expect(cutRuleset('bellwether_x', [])).toMatch(/policy accept;\n\t}\n}\n$/)
    expect(cutRuleset('bellwether_x', [{ saddr: '10.200.1.3' }])).toContain('\t\tip saddr 10.200.1.3 drop\n')
  })

  it('every cut pair appears in both directions, nothing else does, for every shape', () => {
    fc.assert(fc.property(fc.constantFrom(...SHAPES), fc.integer({ min: 4, max: 12 }), fc.integer({ min: 0, max: 1e6 }), (shape, n, seed) => {
      const nodes = Array.from({ length: n }, (_, i) => i)
      const plan = shapePlan(shape, nodes, seededRng(seed))
      const text = cutRuleset('bellwether_t', planDrops(plan, ipOf))
      const rules = text.split('\n').filter((l) => l.includes(' drop'))
      const want = new Set<string>()
      for (const [i, cut] of plan) for (const j of cut) want.add(`\t\tip saddr ${ipOf(i)} ip daddr ${ipOf(j)} drop`)
      expect(new Set(rules)).toEqual(want)
      expect(rules).toHaveLength(want.size)
    }))
  })

  it('leaves out nodes without an address and never repeats a pair', () => {
    const plan = groupsPlan([[0, 1], [2, 3]])
    const drops = planDrops(plan, (i) => i === 3 ? undefined : ipOf(i))
    expect(drops).toEqual([
      { saddr: '127.0.0.200', daddr: '127.0.0.202' },
      { saddr: '127.0.0.201', daddr: '127.0.0.202' },
      { saddr: '127.0.0.202', daddr: '127.0.0.200' },
      { saddr: '127.0.0.202', daddr: '127.0.0.201' }
    ])
  })

  it('refuses anything but addresses and table names (nothing unchecked reaches nft)', () => {
    expect(() => cutRuleset('bellwether_x', [{ saddr: '127.0.0.1; flush ruleset' }])).toThrow(/not an IPv4 address/)
    expect(() => cutRuleset('bellwether_x', [{ saddr: '127.0.0.1', daddr: '300.0.0.1' }])).toThrow(/not an IPv4/)
    expect(() => cutRuleset('bad name', [])).toThrow(/bad nft table name/)
    expect(cutRuleset('bellwether_x', [], 'dir "with" quotes;\nand {braces}')).toContain('\tcomment "dir _with_ quotes__and _braces_"\n')
  })

  it('loss rules: numgen below 100, a plain drop at 100, address filters as sets', () => {
    expect(lossRuleset('bellwether_x_loss', { percent: 10, saddr: ['127.0.0.200', '127.0.0.201'], daddr: ['127.0.0.201'] }))
      .toContain('\t\tip saddr { 127.0.0.200, 127.0.0.201 } ip daddr 127.0.0.201 numgen random mod 100 < 10 drop\n')
    expect(lossRuleset('bellwether_x_loss', { percent: 35, saddr: ['10.200.1.0/24'], saddrNot: ['10.200.1.254'] }))
      .toContain('\t\tip saddr 10.200.1.0/24 ip saddr != 10.200.1.254 numgen random mod 100 < 35 drop\n')
    expect(lossRuleset('bellwether_x_loss', { percent: 100 })).toContain('\t\tdrop\n')
    for (const bad of [0, 101, 2.5]) expect(() => lossRuleset('bellwether_x_loss', { percent: bad })).toThrow(/1\.\.100/)
    expect(() => lossRuleset('bellwether_x_loss', { percent: 5, saddr: [] })).toThrow(/empty/)
  })

  it('table names: ours by prefix, stable per absolute dir', () => {
    const t = clusterTableName('/tmp/some/cluster')
    expect(t).toMatch(/^bellwether_[0-9a-f]{8}$/)
    expect(clusterTableName('/tmp/some/../some/cluster')).toBe(t)
    expect(clusterTableName('/tmp/other')).not.toBe(t)
    expect(lossTableName('/tmp/some/cluster')).toBe(`${t}_loss`)
    expect(t.startsWith(TABLE_PREFIX)).toBe(true)
  })
})

describe('reading nft -j output back', () => {
  // captured from nft 1.0.6 (`nft -j list table inet …`) for a cut table and a loss table
  const cutJson = JSON.stringify({
    nftables: [
      { metainfo: { version: '1.0.6', release_name: 'Lester Gooch #5', json_schema_version: 1 } },
      { table: { family: 'inet', name: 'bellwether_test0001', handle: 4 } },
      { chain: { family: 'inet', table: 'bellwether_test0001', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
      {
        rule: {
          family: 'inet',
          table: 'bellwether_test0001',
          chain: 'input',
          handle: 2,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '127.0.0.250' } },
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: '127.0.0.251' } },
            { drop: null }]
        }
      },
      {
        rule: {
          family: 'inet',
          table: 'bellwether_test0001',
          chain: 'input',
          handle: 3,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '10.9.9.3' } },
            { drop: null }]
        }
      }
    ]
  })
  const lossJson = JSON.stringify({
    nftables: [
      { table: { family: 'inet', name: 'bellwether_test0002', handle: 6 } },
      {
        rule: {
          family: 'inet',
          table: 'bellwether_test0002',
          chain: 'input',
          handle: 4,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { set: ['127.0.0.250', '127.0.0.251'] } } },
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: { set: ['127.0.0.250', '127.0.0.251'] } } },
            { match: { op: '<', left: { numgen: { mode: 'random', mod: 100, offset: 0 } }, right: 7 } },
            { drop: null }]
        }
      },
      {
        rule: {
          family: 'inet',
          table: 'bellwether_test0002',
          chain: 'input',
          handle: 5,
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: { prefix: { addr: '10.9.9.0', len: 24 } } } },
            { match: { op: '!=', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: '10.9.9.254' } },
            { match: { op: '<', left: { numgen: { mode: 'random', mod: 100, offset: 0 } }, right: 50 } },
            { drop: null }]
        }
      }
    ]
  })

  it('cuts', () => {
    const t = parseTableJson(cutJson)!
    expect(t).toMatchObject({ family: 'inet', name: 'bellwether_test0001' })
    expect(tableDrops(t)).toEqual([{ saddr: '127.0.0.250', daddr: '127.0.0.251' }, { saddr: '10.9.9.3' }])
  })

  it('loss rules are read but are not cuts', () => {
    const t = parseTableJson(lossJson)!
    expect(t.rules).toEqual([
      { verdict: 'drop', percent: 7, saddr: ['127.0.0.250', '127.0.0.251'], daddr: ['127.0.0.250', '127.0.0.251'] },
      { verdict: 'drop', percent: 50, saddr: ['10.9.9.0/24'], saddrNot: ['10.9.9.254'] }
    ])
    expect(tableDrops(t)).toEqual([])
  })

  it('an empty table, no table, and rules we do not understand', () => {
    expect(parseTableJson(JSON.stringify({ nftables: [{ table: { family: 'inet', name: 'bellwether_e', handle: 1 } }] })))
      .toEqual({ family: 'inet', name: 'bellwether_e', rules: [] })
    expect(parseTableJson(JSON.stringify({ nftables: [] }))).toBeNull()
    const odd = parseTableJson(JSON.stringify({
      nftables: [{
        rule: {
          family: 'inet',
          table: 'x',
          expr: [
            { match: { op: '==', left: { meta: { key: 'iifname' } }, right: 'lo' } }, { drop: null }]
        }
      }]
    }))!
    expect(odd.rules[0]!.other).toBe(true)
    expect(tableDrops(odd)).toEqual([])
  })

  it('round trip: what cutRuleset writes, tableDrops reads (via the JSON nft would print)', () => {
    const plan = shapePlan('majorities-ring', [0, 1, 2, 3, 4, 5], seededRng(3))
    const drops = planDrops(plan, ipOf)
    const json = JSON.stringify({
      nftables: [{ table: { family: 'inet', name: 'bellwether_r' } }, ...drops.map((d) => ({
        rule: {
          expr: [
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'saddr' } }, right: d.saddr } },
            { match: { op: '==', left: { payload: { protocol: 'ip', field: 'daddr' } }, right: d.daddr } },
            { drop: null }]
        }
      }))]
    })
    expect(tableDrops(parseTableJson(json)!)).toEqual(drops)
  })

  it('ourTableNames keeps inet bellwether_ tables only', () => {
    const text = JSON.stringify({
      nftables: [
        { metainfo: { version: '1.0.6' } },
        { table: { family: 'inet', name: 'bellwether_aaaa1111', handle: 1 } },
        { table: { family: 'ip', name: 'bellwether_iponly', handle: 2 } },
        { table: { family: 'inet', name: 'filter', handle: 3 } },
        { table: { family: 'inet', name: 'bellwether_aaaa1111_loss', handle: 4 } }
      ]
    })
    expect(ourTableNames(text)).toEqual(['bellwether_aaaa1111', 'bellwether_aaaa1111_loss'])
  })
})

describe('namespace names and subnets', () => {
  it('names fit the kernel limits and are derived from the dir', () => {
    const id = netnsIdOf('/tmp/c1')
    expect(id).toMatch(/^[0-9a-f]{6}$/)
    expect(netnsIdOf('/tmp/./c1')).toBe(id)
    expect(bridgeNsName(id)).toBe(`bw-${id}-br`)
    expect(nodeNsName(id, 4)).toBe(`bw-${id}-4`)
    expect(hostIfName(id).length).toBeLessThanOrEqual(15)
  })

  it('picks a 10.x.y.0/24 that overlaps no existing route', () => {
    const first = pickSubnet('abcdef', [])
    expect(first).toMatch(/^10\.(1[2-9][0-9]|2[0-3][0-9])\.\d{1,3}\.0\/24$/)
    expect(pickSubnet('abcdef', [])).toBe(first)
    // taken exactly, or covered by a wider route: moves on
    const second = pickSubnet('abcdef', [first, '192.168.1.0/24'])
    expect(second).not.toBe(first)
    const wide = `${first.split('.').slice(0, 2).join('.')}.0.0/16`
    const third = pickSubnet('abcdef', [wide])
    expect(third.split('.').slice(0, 2)).not.toEqual(first.split('.').slice(0, 2))
    // a host route inside it counts too
    expect(pickSubnet('abcdef', [first.replace('.0/24', '.7')])).not.toBe(first)
    expect(() => pickSubnet('abcdef', ['10.0.0.0/8'])).toThrow(/no free 10\.x\.y\.0\/24/)
  })

  it('node i is .(i+1), the root end .254', () => {
    const info = netnsInfoFor('/tmp/c2', [])
    expect(info.hostIp).toBe(info.subnet.replace('.0/24', '.254'))
    expect(nodeIpOf(info, 0)).toBe(info.subnet.replace('.0/24', '.1'))
    expect(nodeIpOf(info, 252)).toBe(info.subnet.replace('.0/24', '.253'))
    expect(() => nodeIpOf(info, 253)).toThrow(/does not fit/)
  })
})
