// Length-prefixed protobuf frames over libp2p streams (it-pipe + it-length-prefixed):
// one request frame out, a stream of response frames back, every read under a deadline.
import * as lp from 'it-length-prefixed'
import { pipe } from 'it-pipe'
import type { Stream } from '@libp2p/interface'
import { MAX_FRAME_BYTES } from './constants.js'

export class FrameError extends Error {}

/**
 * Write `frames` to the stream's sink, giving up when `signal` aborts. The sink of a
 * negotiated libp2p stream is a byte-stream wrapper that hands each chunk, and at the end an
 * end marker, to the muxer's sink; once that has ended (stream aborted or reset, connection
 * closed) the wrapper waits forever for a reader, so an unguarded write would never settle.
 */
async function writeAll (stream: Stream, frames: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, signal: AbortSignal, maxBytes: number): Promise<void> {
  signal.throwIfAborted()
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((_resolve, reject) => {
    onAbort = () => { reject(new FrameError(`write abandoned: ${String(signal.reason ?? 'aborted')}`)) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  const written = pipe(frames, (src) => lp.encode(src, { maxDataLength: maxBytes }), stream.sink)
  // whichever loses must not surface as an unhandled rejection
  aborted.catch(() => {})
  written.catch(() => {})
  try {
    await Promise.race([written, aborted])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

/** Client side: send `request`, close our write side, yield each response frame. */
export async function * exchange (stream: Stream, request: Uint8Array, signal: AbortSignal, maxBytes = MAX_FRAME_BYTES): AsyncGenerator<Uint8Array> {
  const onAbort = (): void => { stream.abort(new FrameError(`request timed out: ${String(signal.reason ?? 'aborted')}`)) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    // it-length-prefixed refuses to encode past 4 MiB unless told: objects go up to MAX_OBJECT_SIZE
    await writeAll(stream, [request], signal, maxBytes)
    for await (const frame of lp.decode(stream.source, { maxDataLength: maxBytes })) {
      signal.throwIfAborted()
      yield frame.subarray()
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}

/** Server side: read exactly one request frame, then write what `respond` yields. */
export async function serveOne (
  stream: Stream,
  signal: AbortSignal,
  respond: (request: Uint8Array) => AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  maxBytes = MAX_FRAME_BYTES
): Promise<void> {
  const onAbort = (): void => { stream.abort(new FrameError('request read timed out')) }
  signal.addEventListener('abort', onAbort, { once: true })
  let request: Uint8Array | undefined
  try {
    for await (const frame of lp.decode(stream.source, { maxDataLength: maxBytes })) {
      request = frame.subarray()
      break
    }
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
  if (request == null) throw new FrameError('stream closed before a request frame')
  await pipe(respond(request), (src) => lp.encode(src, { maxDataLength: maxBytes }), stream.sink)
}
