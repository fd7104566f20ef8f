/**
 * A minimal STUN Binding responder (RFC 5389) for ICE on a relay host: it answers each valid Binding
 * request with a success response carrying XOR-MAPPED-ADDRESS (the request's source as seen here)
 * and nothing else. No authentication, no other methods; everything else is dropped silently.
 */
import { createSocket, type Socket } from 'node:dgram'
import { isIPv4 } from 'node:net'

/** RFC 5389 §6: the fixed magic cookie. */
export const STUN_MAGIC_COOKIE = 0x2112a442
const BINDING_REQUEST = 0x0001
const BINDING_SUCCESS = 0x0101
const ATTR_XOR_MAPPED_ADDRESS = 0x0020
const HEADER_BYTES = 20
/** Requests above this are dropped unread (RFC 5389 §7.1: STUN over UDP should fit 548 bytes; allow a full MTU). */
export const MAX_STUN_REQUEST_BYTES = 1500

/** Parses a Binding request header; returns its 12-byte transaction id, or null for anything else. */
export function parseBindingRequest (msg: Uint8Array): Uint8Array | null {
  if (msg.byteLength < HEADER_BYTES || msg.byteLength > MAX_STUN_REQUEST_BYTES) return null
  const v = new DataView(msg.buffer, msg.byteOffset, msg.byteLength)
  const type = v.getUint16(0)
  const length = v.getUint16(2)
  // RFC 5389 §6: top two bits zero, length excludes the header and is a multiple of 4, magic cookie.
  if ((type & 0xc000) !== 0 || type !== BINDING_REQUEST) return null
  if (length % 4 !== 0 || length !== msg.byteLength - HEADER_BYTES) return null
  if (v.getUint32(4) !== STUN_MAGIC_COOKIE) return null
  return msg.slice(8, 20)
}

/** Encodes a Binding success response with one XOR-MAPPED-ADDRESS attribute (RFC 5389 §15.2). */
export function encodeBindingSuccess (transactionId: Uint8Array, address: string, port: number): Uint8Array {
  if (transactionId.byteLength !== 12) throw new RangeError('transaction id must be 12 bytes')
  const v4 = isIPv4(address)
  const addrBytes = v4 ? Uint8Array.from(address.split('.').map(Number)) : ipv6Bytes(address)
  const attrLen = 4 + addrBytes.byteLength
  const out = new Uint8Array(HEADER_BYTES + 4 + attrLen)
  const v = new DataView(out.buffer)
  v.setUint16(0, BINDING_SUCCESS)
  v.setUint16(2, 4 + attrLen)
  v.setUint32(4, STUN_MAGIC_COOKIE)
  out.set(transactionId, 8)
  v.setUint16(20, ATTR_XOR_MAPPED_ADDRESS)
  v.setUint16(22, attrLen)
  v.setUint8(24, 0)
  v.setUint8(25, v4 ? 0x01 : 0x02)
  // X-Port: port XOR the cookie's top 16 bits; X-Address: address XOR cookie (|| transaction id for IPv6).
  v.setUint16(26, port ^ (STUN_MAGIC_COOKIE >>> 16))
  const mask = new Uint8Array(16)
  new DataView(mask.buffer).setUint32(0, STUN_MAGIC_COOKIE)
  mask.set(transactionId, 4)
  for (let i = 0; i < addrBytes.byteLength; i++) out[28 + i] = addrBytes[i]! ^ mask[i]!
  return out
}

function ipv6Bytes (address: string): Uint8Array {
  const [head = '', tail = ''] = address.split('::')
  const h = head === '' ? [] : head.split(':')
  const t = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  const out = new Uint8Array(16)
  groups.forEach((g, i) => { out[2 * i] = parseInt(g, 16) >> 8; out[2 * i + 1] = parseInt(g, 16) & 0xff })
  return out
}

export interface StunServer {
  /** The bound UDP port. */
  readonly port: number
  /** Valid Binding requests answered so far. */
  answered(): number
  close(): Promise<void>
}

/** Starts a STUN Binding responder on UDP `host:port` (IPv4). */
export async function startStunServer (options: { host?: string, port?: number } = {}): Promise<StunServer> {
  const socket: Socket = createSocket({ type: 'udp4' })
  let answered = 0
  socket.on('message', (msg, rinfo) => {
    const txid = parseBindingRequest(msg)
    if (txid == null) return
    answered++
    socket.send(encodeBindingSuccess(txid, rinfo.address, rinfo.port), rinfo.port, rinfo.address)
  })
  socket.on('error', () => { /* a send to an unreachable source must not crash the relay */ })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(options.port ?? 3478, options.host ?? '0.0.0.0', () => { socket.off('error', reject); resolve() })
  })
  return {
    port: socket.address().port,
    answered: () => answered,
    close: async () => { await new Promise<void>((resolve) => { socket.close(() => { resolve() }) }) }
  }
}
