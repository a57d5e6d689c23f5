// host:port strings as bellwether takes them on the command line (IPv4 only: every address
// we bind is on loopback or inside our own namespaces). Kept apart from host.ts so the admin
// API and the CLI can parse addresses without loading libp2p.
export function splitHostPort (hp: string): { host: string, port: number } {
  const m = /^([0-9.]+):(\d{1,5})$/.exec(hp)
  if (m == null || Number(m[2]) > 65535) throw new Error(`invalid address '${hp}': expected IPv4:PORT, e.g. 127.0.0.1:7000`)
  return { host: m[1], port: Number(m[2]) }
}

export function isLoopbackHost (host: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
}

/** 127.0.0.X → zone X: each loopback "host" its own failure domain unless told otherwise */
export function zoneFromAddress (listen: string): number {
  const { host, port } = splitHostPort(listen)
  const last = Number(host.split('.')[3])
  return host === '127.0.0.1' ? port : last
}
