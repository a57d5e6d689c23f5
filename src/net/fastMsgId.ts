// gossipsub's fast message id: what it looks a received message up by BEFORE checking its
// signature. Without one, gossipsub verifies the ed25519 signature of every copy it receives
// (each node gets a message from up to D mesh peers) and only then finds the copy in its seen
// cache (profile of an idle 10-node cluster, issue 14: verification was the second cost after
// socket writes). A copy whose fast id names a message already verified is dropped unverified.
//
// The id is topic + author + sequence number: exactly what the full message id (gossipsub's
// StrictSign default, author + seqno) already treats as "the same message", so nothing that
// was delivered before is dropped now. It is remembered only once a copy passed verification,
// so a forged first copy cannot shadow the real one.
import type { RPC } from '@chainsafe/libp2p-gossipsub/message'

function latin1 (b: Uint8Array | undefined): string {
  return b === undefined ? '' : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1')
}

/** length-prefixed, so no two different (topic, author, seqno) triples give the same id */
export function fastMsgId (msg: RPC.Message): string {
  const topic = msg.topic ?? ''
  const from = latin1(msg.from)
  return `${topic.length}:${topic}${from.length}:${from}${latin1(msg.seqno)}`
}
