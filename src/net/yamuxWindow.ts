// When a yamux stream tells its peer it may send more. @chainsafe/libp2p-yamux 7.0.4 (pinned in
// package.json) sends a WINDOW_UPDATE frame after every chunk its reader takes, however small: on
// a long-lived gossipsub stream every incoming message, each heartbeat included, is answered by
// one more frame the other way. Each such frame is a noise-encrypted socket write on one side and
// a read and decryption on the other; on an idle node of ten they were 67 of its 150 socket writes
// in 10 s (strace, issue 14). hashicorp/yamux and rust-yamux grant credit once half the window
// has been consumed, and so does this: a sender with a full window never stalls, because it has
// half of it left when the update arrives. Frames that carry flags (SYN/ACK, which open a stream)
// still go at once, and the window still grows as yamux's own rule has it (it runs whenever an
// update is sent). Installed once per process on the stream class's prototype, which the package
// exports as `./stream`.
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'

/** yamux's StreamState.Established and Finished: past the handshake, so an update carries no flags */
const ESTABLISHED = 3
const FINISHED = 4

interface WindowState {
  state: number
  recvWindow: number
  recvWindowCapacity: number
}

/**
 * Whether a stream in this state may skip its window update: no handshake flag is due and less
 * than half its receive window has been consumed since the last update.
 */
export function deferWindowUpdate (s: WindowState): boolean {
  if (s.state !== ESTABLISHED && s.state !== FINISHED) return false
  return s.recvWindow - s.recvWindowCapacity < s.recvWindow / 2
}

let installed = false

/** replaces yamux's per-read window update with the half-window rule; idempotent */
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
