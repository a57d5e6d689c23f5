// When a yamux stream tells its peer it may send more. @chainsafe/libp2p-yamux 7.0.4 (pinned in
// package.json) sends a WINDOW_UPDATE frame after every chunk its reader takes, however small: on
// a long-lived gossipsub stream every incoming message, each heartbeat included, is answered by
// one more frame the other way. Each such frame is a noise-encrypted socket write on one side and
// a read and decryption on the other; on an idle node of ten they were 67 of its 151 socket writes
// in 10 s (strace, issue 14). hashicorp/yamux and rust-yamux grant credit once half the window
// has been consumed; this grants it once half the window or 64 KiB (yamux's largest frame) has
// been, whichever comes first. A sender never stalls, having at least half its window left when
// the update arrives, and a bulk transfer still gets an update per large frame, so its window
// grows as fast as before (yamux's own rule runs whenever an update is sent; with updates only
// at half the window, 4 MiB client writes in `--only recovery` ran at 32–35 MB/s against
// 36–38). Frames that carry flags (SYN/ACK, which open a stream) still go at once. Installed
// once per process on the stream class's prototype, which the package exports as `./stream`.
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** yamux's StreamState.Established and Finished: past the handshake, so an update carries no flags */
const ESTABLISHED = 3
const FINISHED = 4
/** consumed bytes that always earn an update: yamux's largest frame (its maxMessageSize default) */
export const WINDOW_UPDATE_BYTES = 64 * 1024

interface WindowState {
  state: number
  recvWindow: number
  recvWindowCapacity: number
}

/**
 * Whether a stream in this state may skip its window update: no handshake flag is due, and less
 * than half its receive window and less than WINDOW_UPDATE_BYTES have been consumed since the
 * last update.
 */
export function deferWindowUpdate (s: WindowState): boolean {
  if (s.state !== ESTABLISHED && s.state !== FINISHED) return false
  return s.recvWindow - s.recvWindowCapacity < Math.min(s.recvWindow / 2, WINDOW_UPDATE_BYTES)
}

let installed = false

/** replaces yamux's per-read window update with the rule above; idempotent */
export function installYamuxWindowRule (): void {
  if (installed) return
  const proto = YamuxStream.prototype as unknown as { sendWindowUpdate: (this: WindowState) => void }
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function') throw new Error('@chainsafe/libp2p-yamux: YamuxStream.sendWindowUpdate not found (the pinned version changed?)')
  proto.sendWindowUpdate = function (this: WindowState): void {
    if (deferWindowUpdate(this)) return
    original.call(this)
  }
  installed = true
}
