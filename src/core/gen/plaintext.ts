import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Plaintext {
  version: number
  id: Uint8Array<ArrayBuffer>
  timestamp: bigint
  content: Uint8Array<ArrayBuffer>
  profileName?: string
  group?: Uint8Array<ArrayBuffer>
  seq: bigint
  route?: MailboxRoute
}

export namespace Plaintext {
  let _codec: Codec<Plaintext>

  export const codec = (): Codec<Plaintext> => {
    if (_codec == null) {
      _codec = message<Plaintext>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.id)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(24)
          w.uint64(obj.timestamp)
        }

        if ((obj.content != null && obj.content.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.content)
        }

        if (obj.profileName != null) {
          w.uint32(42)
          w.string(obj.profileName)
        }

        if (obj.group != null) {
          w.uint32(50)
          w.bytes(obj.group)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(160)
          w.uint64(obj.seq)
        }

        if (obj.route != null) {
          w.uint32(170)
          MailboxRoute.codec().encode(obj.route, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          id: uint8ArrayAlloc(0),
          timestamp: 0n,
          content: uint8ArrayAlloc(0),
          seq: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.id = reader.bytes()
              break
            }
            case 3: {
              obj.timestamp = reader.uint64()
              break
            }
            case 4: {
              obj.content = reader.bytes()
              break
            }
            case 5: {
              obj.profileName = reader.string()
              break
            }
            case 6: {
              obj.group = reader.bytes()
              break
            }
            case 20: {
              obj.seq = reader.uint64()
              break
            }
            case 21: {
              obj.route = MailboxRoute.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.route
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.content`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.profileName`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.group`,
                value: reader.bytes()
              }
              break
            }
            case 20: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 21: {
              yield * MailboxRoute.codec().stream(reader, reader.uint32(), `${prefix}.route`, {
                limits: opts.limits?.route
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PlaintextVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface PlaintextIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PlaintextTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface PlaintextContentFieldEvent {
    field: '$.content'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PlaintextProfileNameFieldEvent {
    field: '$.profileName'
    value: string
  }

  export interface PlaintextGroupFieldEvent {
    field: '$.group'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PlaintextSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface PlaintextRouteTagFieldEvent {
    field: '$.route.tag'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PlaintextRouteRelaysFieldEvent {
    field: '$.route.relays[]'
    index: number
    value: string
  }

  export interface PlaintextRouteMutualHintFieldEvent {
    field: '$.route.mutual[].hint'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PlaintextRouteMutualTagFieldEvent {
    field: '$.route.mutual[].tag'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PlaintextRouteHostingFieldEvent {
    field: '$.route.hosting'
    value: boolean
  }

  export interface PlaintextRouteHostTagFieldEvent {
    field: '$.route.hostTag'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Plaintext>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Plaintext.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Plaintext>): Plaintext {
    return decodeMessage(buf, Plaintext.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Plaintext>): Generator<PlaintextVersionFieldEvent | PlaintextIdFieldEvent | PlaintextTimestampFieldEvent | PlaintextContentFieldEvent | PlaintextProfileNameFieldEvent | PlaintextGroupFieldEvent | PlaintextSeqFieldEvent | PlaintextRouteTagFieldEvent | PlaintextRouteRelaysFieldEvent | PlaintextRouteMutualHintFieldEvent | PlaintextRouteMutualTagFieldEvent | PlaintextRouteHostingFieldEvent | PlaintextRouteHostTagFieldEvent> {
    return streamMessage(buf, Plaintext.codec(), opts)
  }
}

export interface MailboxRoute {
  tag: Uint8Array<ArrayBuffer>
  relays: string[]
  mutual: MutualHost[]
  hosting: boolean
  hostTag?: Uint8Array<ArrayBuffer>
}

export namespace MailboxRoute {
  let _codec: Codec<MailboxRoute>

  export const codec = (): Codec<MailboxRoute> => {
    if (_codec == null) {
      _codec = message<MailboxRoute>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.tag != null && obj.tag.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.tag)
        }

        if (obj.relays != null && obj.relays.length > 0) {
          for (const value of obj.relays) {
            w.uint32(18)
            w.string(value)
          }
        }

        if (obj.mutual != null && obj.mutual.length > 0) {
          for (const value of obj.mutual) {
            w.uint32(26)
            MutualHost.codec().encode(value, w)
          }
        }

        if ((obj.hosting != null && obj.hosting !== false)) {
          w.uint32(32)
          w.bool(obj.hosting)
        }

        if (obj.hostTag != null) {
          w.uint32(42)
          w.bytes(obj.hostTag)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          tag: uint8ArrayAlloc(0),
          relays: [],
          mutual: [],
          hosting: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.tag = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.relays != null && obj.relays.length === opts.limits.relays) {
                throw new MaxLengthError('Decode error - repeated field "relays" had too many elements')
              }

              obj.relays.push(reader.string())
              break
            }
            case 3: {
              if (opts.limits?.mutual != null && obj.mutual.length === opts.limits.mutual) {
                throw new MaxLengthError('Decode error - repeated field "mutual" had too many elements')
              }

              obj.mutual.push(MutualHost.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.mutual$
              }))
              break
            }
            case 4: {
              obj.hosting = reader.bool()
              break
            }
            case 5: {
              obj.hostTag = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          relays: 0,
          mutual: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.tag`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.relays != null && obj.relays === opts.limits.relays) {
                throw new MaxLengthError('Streaming decode error - repeated field "relays" had too many elements')
              }

              yield {
                field: `${prefix}.relays[]`,
                index: obj.relays,
                value: reader.string()
              }

              obj.relays++

              break
            }
            case 3: {
              if (opts.limits?.mutual != null && obj.mutual === opts.limits.mutual) {
                throw new MaxLengthError('Streaming decode error - repeated field "mutual" had too many elements')
              }

              for (const evt of MutualHost.codec().stream(reader, reader.uint32(), `${prefix}.mutual[]`, {
                limits: opts.limits?.mutual$
              })) {
                yield {
                  ...evt,
                  index: obj.mutual
                }
              }

              obj.mutual++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.hosting`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.hostTag`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface MailboxRouteTagFieldEvent {
    field: '$.tag'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MailboxRouteRelaysFieldEvent {
    field: '$.relays[]'
    index: number
    value: string
  }

  export interface MailboxRouteMutualHintFieldEvent {
    field: '$.mutual[].hint'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRouteMutualTagFieldEvent {
    field: '$.mutual[].tag'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRouteHostingFieldEvent {
    field: '$.hosting'
    value: boolean
  }

  export interface MailboxRouteHostTagFieldEvent {
    field: '$.hostTag'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<MailboxRoute>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MailboxRoute.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxRoute>): MailboxRoute {
    return decodeMessage(buf, MailboxRoute.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxRoute>): Generator<MailboxRouteTagFieldEvent | MailboxRouteRelaysFieldEvent | MailboxRouteMutualHintFieldEvent | MailboxRouteMutualTagFieldEvent | MailboxRouteHostingFieldEvent | MailboxRouteHostTagFieldEvent> {
    return streamMessage(buf, MailboxRoute.codec(), opts)
  }
}

export interface MutualHost {
  hint: Uint8Array<ArrayBuffer>
  tag: Uint8Array<ArrayBuffer>
}

export namespace MutualHost {
  let _codec: Codec<MutualHost>

  export const codec = (): Codec<MutualHost> => {
    if (_codec == null) {
      _codec = message<MutualHost>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.hint != null && obj.hint.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.hint)
        }

        if ((obj.tag != null && obj.tag.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.tag)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          hint: uint8ArrayAlloc(0),
          tag: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.hint = reader.bytes()
              break
            }
            case 2: {
              obj.tag = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.hint`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.tag`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface MutualHostHintFieldEvent {
    field: '$.hint'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MutualHostTagFieldEvent {
    field: '$.tag'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<MutualHost>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MutualHost.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MutualHost>): MutualHost {
    return decodeMessage(buf, MutualHost.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MutualHost>): Generator<MutualHostHintFieldEvent | MutualHostTagFieldEvent> {
    return streamMessage(buf, MutualHost.codec(), opts)
  }
}
