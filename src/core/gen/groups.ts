import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface GroupWire {
  version: number
  sender: Uint8Array<ArrayBuffer>
  message: Uint8Array<ArrayBuffer>
}

export namespace GroupWire {
  let _codec: Codec<GroupWire>

  export const codec = (): Codec<GroupWire> => {
    if (_codec == null) {
      _codec = message<GroupWire>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.sender != null && obj.sender.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.sender)
        }

        if ((obj.message != null && obj.message.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.message)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          sender: uint8ArrayAlloc(0),
          message: uint8ArrayAlloc(0)
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
              obj.sender = reader.bytes()
              break
            }
            case 3: {
              obj.message = reader.bytes()
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
                field: `${prefix}.sender`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.message`,
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

  export interface GroupWireVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface GroupWireSenderFieldEvent {
    field: '$.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupWireMessageFieldEvent {
    field: '$.message'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<GroupWire>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupWire.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupWire>): GroupWire {
    return decodeMessage(buf, GroupWire.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupWire>): Generator<GroupWireVersionFieldEvent | GroupWireSenderFieldEvent | GroupWireMessageFieldEvent> {
    return streamMessage(buf, GroupWire.codec(), opts)
  }
}

export interface GroupDep {
  id: Uint8Array<ArrayBuffer>
  sender: Uint8Array<ArrayBuffer>
  seq: bigint
}

export namespace GroupDep {
  let _codec: Codec<GroupDep>

  export const codec = (): Codec<GroupDep> => {
    if (_codec == null) {
      _codec = message<GroupDep>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if ((obj.sender != null && obj.sender.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.sender)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(24)
          w.uint64(obj.seq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          sender: uint8ArrayAlloc(0),
          seq: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              obj.sender = reader.bytes()
              break
            }
            case 3: {
              obj.seq = reader.uint64()
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
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sender`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
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

  export interface GroupDepIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupDepSenderFieldEvent {
    field: '$.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupDepSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export function encode (obj: Partial<GroupDep>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupDep.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupDep>): GroupDep {
    return decodeMessage(buf, GroupDep.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupDep>): Generator<GroupDepIdFieldEvent | GroupDepSenderFieldEvent | GroupDepSeqFieldEvent> {
    return streamMessage(buf, GroupDep.codec(), opts)
  }
}

export interface GroupBody {
  seq: bigint
  lamport: bigint
  deps: GroupDep[]
  timestamp: bigint
  text: string
}

export namespace GroupBody {
  let _codec: Codec<GroupBody>

  export const codec = (): Codec<GroupBody> => {
    if (_codec == null) {
      _codec = message<GroupBody>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(8)
          w.uint64(obj.seq)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(16)
          w.uint64(obj.lamport)
        }

        if (obj.deps != null && obj.deps.length > 0) {
          for (const value of obj.deps) {
            w.uint32(26)
            GroupDep.codec().encode(value, w)
          }
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(32)
          w.uint64(obj.timestamp)
        }

        if ((obj.text != null && obj.text !== '')) {
          w.uint32(42)
          w.string(obj.text)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0n,
          lamport: 0n,
          deps: [],
          timestamp: 0n,
          text: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64()
              break
            }
            case 2: {
              obj.lamport = reader.uint64()
              break
            }
            case 3: {
              if (opts.limits?.deps != null && obj.deps.length === opts.limits.deps) {
                throw new MaxLengthError('Decode error - repeated field "deps" had too many elements')
              }

              obj.deps.push(GroupDep.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.deps$
              }))
              break
            }
            case 4: {
              obj.timestamp = reader.uint64()
              break
            }
            case 5: {
              obj.text = reader.string()
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
          deps: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              if (opts.limits?.deps != null && obj.deps === opts.limits.deps) {
                throw new MaxLengthError('Streaming decode error - repeated field "deps" had too many elements')
              }

              for (const evt of GroupDep.codec().stream(reader, reader.uint32(), `${prefix}.deps[]`, {
                limits: opts.limits?.deps$
              })) {
                yield {
                  ...evt,
                  index: obj.deps
                }
              }

              obj.deps++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.text`,
                value: reader.string()
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

  export interface GroupBodySeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface GroupBodyLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface GroupBodyDepsIdFieldEvent {
    field: '$.deps[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupBodyDepsSenderFieldEvent {
    field: '$.deps[].sender'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupBodyDepsSeqFieldEvent {
    field: '$.deps[].seq'
    value: bigint
    index: number
  }

  export interface GroupBodyTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface GroupBodyTextFieldEvent {
    field: '$.text'
    value: string
  }

  export function encode (obj: Partial<GroupBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupBody>): GroupBody {
    return decodeMessage(buf, GroupBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupBody>): Generator<GroupBodySeqFieldEvent | GroupBodyLamportFieldEvent | GroupBodyDepsIdFieldEvent | GroupBodyDepsSenderFieldEvent | GroupBodyDepsSeqFieldEvent | GroupBodyTimestampFieldEvent | GroupBodyTextFieldEvent> {
    return streamMessage(buf, GroupBody.codec(), opts)
  }
}

export interface MemberAddrs {
  member: Uint8Array<ArrayBuffer>
  addrs: string[]
}

export namespace MemberAddrs {
  let _codec: Codec<MemberAddrs>

  export const codec = (): Codec<MemberAddrs> => {
    if (_codec == null) {
      _codec = message<MemberAddrs>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.member != null && obj.member.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.member)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          member: uint8ArrayAlloc(0),
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.member = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.string())
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.member`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.string()
              }

              obj.addrs++

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

  export interface MemberAddrsMemberFieldEvent {
    field: '$.member'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MemberAddrsAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<MemberAddrs>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MemberAddrs.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MemberAddrs>): MemberAddrs {
    return decodeMessage(buf, MemberAddrs.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MemberAddrs>): Generator<MemberAddrsMemberFieldEvent | MemberAddrsAddrsFieldEvent> {
    return streamMessage(buf, MemberAddrs.codec(), opts)
  }
}

export interface GroupInvite {
  log: Uint8Array<ArrayBuffer>[]
  secret: Uint8Array<ArrayBuffer>
  epoch: number
  addrs: MemberAddrs[]
}

export namespace GroupInvite {
  let _codec: Codec<GroupInvite>

  export const codec = (): Codec<GroupInvite> => {
    if (_codec == null) {
      _codec = message<GroupInvite>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.log != null && obj.log.length > 0) {
          for (const value of obj.log) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if ((obj.secret != null && obj.secret.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.secret)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(24)
          w.uint32(obj.epoch)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(34)
            MemberAddrs.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          log: [],
          secret: uint8ArrayAlloc(0),
          epoch: 0,
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.log != null && obj.log.length === opts.limits.log) {
                throw new MaxLengthError('Decode error - repeated field "log" had too many elements')
              }

              obj.log.push(reader.bytes())
              break
            }
            case 2: {
              obj.secret = reader.bytes()
              break
            }
            case 3: {
              obj.epoch = reader.uint32()
              break
            }
            case 4: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(MemberAddrs.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.addrs$
              }))
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
          log: 0,
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.log != null && obj.log === opts.limits.log) {
                throw new MaxLengthError('Streaming decode error - repeated field "log" had too many elements')
              }

              yield {
                field: `${prefix}.log[]`,
                index: obj.log,
                value: reader.bytes()
              }

              obj.log++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.secret`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              for (const evt of MemberAddrs.codec().stream(reader, reader.uint32(), `${prefix}.addrs[]`, {
                limits: opts.limits?.addrs$
              })) {
                yield {
                  ...evt,
                  index: obj.addrs
                }
              }

              obj.addrs++

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

  export interface GroupInviteLogFieldEvent {
    field: '$.log[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupInviteSecretFieldEvent {
    field: '$.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupInviteEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface GroupInviteAddrsMemberFieldEvent {
    field: '$.addrs[].member'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupInviteAddrsAddrsFieldEvent {
    field: '$.addrs[].addrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<GroupInvite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupInvite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupInvite>): GroupInvite {
    return decodeMessage(buf, GroupInvite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupInvite>): Generator<GroupInviteLogFieldEvent | GroupInviteSecretFieldEvent | GroupInviteEpochFieldEvent | GroupInviteAddrsMemberFieldEvent | GroupInviteAddrsAddrsFieldEvent> {
    return streamMessage(buf, GroupInvite.codec(), opts)
  }
}

export interface GroupEntryMsg {
  entry: Uint8Array<ArrayBuffer>
  secret?: Uint8Array<ArrayBuffer>
  addrs: MemberAddrs[]
}

export namespace GroupEntryMsg {
  let _codec: Codec<GroupEntryMsg>

  export const codec = (): Codec<GroupEntryMsg> => {
    if (_codec == null) {
      _codec = message<GroupEntryMsg>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.entry != null && obj.entry.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.entry)
        }

        if (obj.secret != null) {
          w.uint32(18)
          w.bytes(obj.secret)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(26)
            MemberAddrs.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          entry: uint8ArrayAlloc(0),
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.entry = reader.bytes()
              break
            }
            case 2: {
              obj.secret = reader.bytes()
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(MemberAddrs.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.addrs$
              }))
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
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.entry`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.secret`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              for (const evt of MemberAddrs.codec().stream(reader, reader.uint32(), `${prefix}.addrs[]`, {
                limits: opts.limits?.addrs$
              })) {
                yield {
                  ...evt,
                  index: obj.addrs
                }
              }

              obj.addrs++

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

  export interface GroupEntryMsgEntryFieldEvent {
    field: '$.entry'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupEntryMsgSecretFieldEvent {
    field: '$.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupEntryMsgAddrsMemberFieldEvent {
    field: '$.addrs[].member'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupEntryMsgAddrsAddrsFieldEvent {
    field: '$.addrs[].addrs[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<GroupEntryMsg>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupEntryMsg.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupEntryMsg>): GroupEntryMsg {
    return decodeMessage(buf, GroupEntryMsg.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupEntryMsg>): Generator<GroupEntryMsgEntryFieldEvent | GroupEntryMsgSecretFieldEvent | GroupEntryMsgAddrsMemberFieldEvent | GroupEntryMsgAddrsAddrsFieldEvent> {
    return streamMessage(buf, GroupEntryMsg.codec(), opts)
  }
}

export interface GroupSecretMsg {
  epoch: number
  secret: Uint8Array<ArrayBuffer>
  head: Uint8Array<ArrayBuffer>
}

export namespace GroupSecretMsg {
  let _codec: Codec<GroupSecretMsg>

  export const codec = (): Codec<GroupSecretMsg> => {
    if (_codec == null) {
      _codec = message<GroupSecretMsg>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(8)
          w.uint32(obj.epoch)
        }

        if ((obj.secret != null && obj.secret.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.secret)
        }

        if ((obj.head != null && obj.head.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.head)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          epoch: 0,
          secret: uint8ArrayAlloc(0),
          head: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.epoch = reader.uint32()
              break
            }
            case 2: {
              obj.secret = reader.bytes()
              break
            }
            case 3: {
              obj.head = reader.bytes()
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
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.secret`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.head`,
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

  export interface GroupSecretMsgEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface GroupSecretMsgSecretFieldEvent {
    field: '$.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupSecretMsgHeadFieldEvent {
    field: '$.head'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<GroupSecretMsg>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupSecretMsg.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupSecretMsg>): GroupSecretMsg {
    return decodeMessage(buf, GroupSecretMsg.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupSecretMsg>): Generator<GroupSecretMsgEpochFieldEvent | GroupSecretMsgSecretFieldEvent | GroupSecretMsgHeadFieldEvent> {
    return streamMessage(buf, GroupSecretMsg.codec(), opts)
  }
}

export interface GroupDistribution {
  distribution: Uint8Array<ArrayBuffer>
  seq: bigint
  lamport: bigint
  epoch: number
}

export namespace GroupDistribution {
  let _codec: Codec<GroupDistribution>

  export const codec = (): Codec<GroupDistribution> => {
    if (_codec == null) {
      _codec = message<GroupDistribution>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.distribution != null && obj.distribution.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.distribution)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(16)
          w.uint64(obj.seq)
        }

        if ((obj.lamport != null && obj.lamport !== 0n)) {
          w.uint32(24)
          w.uint64(obj.lamport)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(32)
          w.uint32(obj.epoch)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          distribution: uint8ArrayAlloc(0),
          seq: 0n,
          lamport: 0n,
          epoch: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.distribution = reader.bytes()
              break
            }
            case 2: {
              obj.seq = reader.uint64()
              break
            }
            case 3: {
              obj.lamport = reader.uint64()
              break
            }
            case 4: {
              obj.epoch = reader.uint32()
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
                field: `${prefix}.distribution`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.lamport`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint32()
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

  export interface GroupDistributionDistributionFieldEvent {
    field: '$.distribution'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupDistributionSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface GroupDistributionLamportFieldEvent {
    field: '$.lamport'
    value: bigint
  }

  export interface GroupDistributionEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export function encode (obj: Partial<GroupDistribution>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupDistribution.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupDistribution>): GroupDistribution {
    return decodeMessage(buf, GroupDistribution.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupDistribution>): Generator<GroupDistributionDistributionFieldEvent | GroupDistributionSeqFieldEvent | GroupDistributionLamportFieldEvent | GroupDistributionEpochFieldEvent> {
    return streamMessage(buf, GroupDistribution.codec(), opts)
  }
}

export interface SeqRange {
  sender: Uint8Array<ArrayBuffer>
  from: bigint
  to: bigint
}

export namespace SeqRange {
  let _codec: Codec<SeqRange>

  export const codec = (): Codec<SeqRange> => {
    if (_codec == null) {
      _codec = message<SeqRange>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.sender != null && obj.sender.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.sender)
        }

        if ((obj.from != null && obj.from !== 0n)) {
          w.uint32(16)
          w.uint64(obj.from)
        }

        if ((obj.to != null && obj.to !== 0n)) {
          w.uint32(24)
          w.uint64(obj.to)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          sender: uint8ArrayAlloc(0),
          from: 0n,
          to: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.sender = reader.bytes()
              break
            }
            case 2: {
              obj.from = reader.uint64()
              break
            }
            case 3: {
              obj.to = reader.uint64()
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
                field: `${prefix}.sender`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.from`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.to`,
                value: reader.uint64()
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

  export interface SeqRangeSenderFieldEvent {
    field: '$.sender'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SeqRangeFromFieldEvent {
    field: '$.from'
    value: bigint
  }

  export interface SeqRangeToFieldEvent {
    field: '$.to'
    value: bigint
  }

  export function encode (obj: Partial<SeqRange>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SeqRange.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SeqRange>): SeqRange {
    return decodeMessage(buf, SeqRange.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SeqRange>): Generator<SeqRangeSenderFieldEvent | SeqRangeFromFieldEvent | SeqRangeToFieldEvent> {
    return streamMessage(buf, SeqRange.codec(), opts)
  }
}

export interface GroupRepairRequest {
  ranges: SeqRange[]
}

export namespace GroupRepairRequest {
  let _codec: Codec<GroupRepairRequest>

  export const codec = (): Codec<GroupRepairRequest> => {
    if (_codec == null) {
      _codec = message<GroupRepairRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.ranges != null && obj.ranges.length > 0) {
          for (const value of obj.ranges) {
            w.uint32(10)
            SeqRange.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ranges: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ranges != null && obj.ranges.length === opts.limits.ranges) {
                throw new MaxLengthError('Decode error - repeated field "ranges" had too many elements')
              }

              obj.ranges.push(SeqRange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ranges$
              }))
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
          ranges: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.ranges != null && obj.ranges === opts.limits.ranges) {
                throw new MaxLengthError('Streaming decode error - repeated field "ranges" had too many elements')
              }

              for (const evt of SeqRange.codec().stream(reader, reader.uint32(), `${prefix}.ranges[]`, {
                limits: opts.limits?.ranges$
              })) {
                yield {
                  ...evt,
                  index: obj.ranges
                }
              }

              obj.ranges++

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

  export interface GroupRepairRequestRangesSenderFieldEvent {
    field: '$.ranges[].sender'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupRepairRequestRangesFromFieldEvent {
    field: '$.ranges[].from'
    value: bigint
    index: number
  }

  export interface GroupRepairRequestRangesToFieldEvent {
    field: '$.ranges[].to'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<GroupRepairRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupRepairRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupRepairRequest>): GroupRepairRequest {
    return decodeMessage(buf, GroupRepairRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupRepairRequest>): Generator<GroupRepairRequestRangesSenderFieldEvent | GroupRepairRequestRangesFromFieldEvent | GroupRepairRequestRangesToFieldEvent> {
    return streamMessage(buf, GroupRepairRequest.codec(), opts)
  }
}

export interface GroupRepairResponse {
  messages: Uint8Array<ArrayBuffer>[]
}

export namespace GroupRepairResponse {
  let _codec: Codec<GroupRepairResponse>

  export const codec = (): Codec<GroupRepairResponse> => {
    if (_codec == null) {
      _codec = message<GroupRepairResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.messages != null && obj.messages.length > 0) {
          for (const value of obj.messages) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          messages: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.messages != null && obj.messages.length === opts.limits.messages) {
                throw new MaxLengthError('Decode error - repeated field "messages" had too many elements')
              }

              obj.messages.push(reader.bytes())
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
          messages: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.messages != null && obj.messages === opts.limits.messages) {
                throw new MaxLengthError('Streaming decode error - repeated field "messages" had too many elements')
              }

              yield {
                field: `${prefix}.messages[]`,
                index: obj.messages,
                value: reader.bytes()
              }

              obj.messages++

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

  export interface GroupRepairResponseMessagesFieldEvent {
    field: '$.messages[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<GroupRepairResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupRepairResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupRepairResponse>): GroupRepairResponse {
    return decodeMessage(buf, GroupRepairResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupRepairResponse>): Generator<GroupRepairResponseMessagesFieldEvent> {
    return streamMessage(buf, GroupRepairResponse.codec(), opts)
  }
}

export interface GroupSummary {
  delivered: SeqRange[]
}

export namespace GroupSummary {
  let _codec: Codec<GroupSummary>

  export const codec = (): Codec<GroupSummary> => {
    if (_codec == null) {
      _codec = message<GroupSummary>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.delivered != null && obj.delivered.length > 0) {
          for (const value of obj.delivered) {
            w.uint32(10)
            SeqRange.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          delivered: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.delivered != null && obj.delivered.length === opts.limits.delivered) {
                throw new MaxLengthError('Decode error - repeated field "delivered" had too many elements')
              }

              obj.delivered.push(SeqRange.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.delivered$
              }))
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
          delivered: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.delivered != null && obj.delivered === opts.limits.delivered) {
                throw new MaxLengthError('Streaming decode error - repeated field "delivered" had too many elements')
              }

              for (const evt of SeqRange.codec().stream(reader, reader.uint32(), `${prefix}.delivered[]`, {
                limits: opts.limits?.delivered$
              })) {
                yield {
                  ...evt,
                  index: obj.delivered
                }
              }

              obj.delivered++

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

  export interface GroupSummaryDeliveredSenderFieldEvent {
    field: '$.delivered[].sender'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupSummaryDeliveredFromFieldEvent {
    field: '$.delivered[].from'
    value: bigint
    index: number
  }

  export interface GroupSummaryDeliveredToFieldEvent {
    field: '$.delivered[].to'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<GroupSummary>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupSummary.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupSummary>): GroupSummary {
    return decodeMessage(buf, GroupSummary.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupSummary>): Generator<GroupSummaryDeliveredSenderFieldEvent | GroupSummaryDeliveredFromFieldEvent | GroupSummaryDeliveredToFieldEvent> {
    return streamMessage(buf, GroupSummary.codec(), opts)
  }
}

export interface GroupControl {
  version: number
  groupId: Uint8Array<ArrayBuffer>
  invite?: GroupInvite
  entry?: GroupEntryMsg
  secret?: GroupSecretMsg
  distribution?: GroupDistribution
  repairRequest?: GroupRepairRequest
  repairResponse?: GroupRepairResponse
  summary?: GroupSummary
}

export namespace GroupControl {
  let _codec: Codec<GroupControl>

  export const codec = (): Codec<GroupControl> => {
    if (_codec == null) {
      _codec = message<GroupControl>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.groupId != null && obj.groupId.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.groupId)
        }

        if (obj.invite != null) {
          w.uint32(26)
          GroupInvite.codec().encode(obj.invite, w)
        }

        if (obj.entry != null) {
          w.uint32(34)
          GroupEntryMsg.codec().encode(obj.entry, w)
        }

        if (obj.secret != null) {
          w.uint32(42)
          GroupSecretMsg.codec().encode(obj.secret, w)
        }

        if (obj.distribution != null) {
          w.uint32(50)
          GroupDistribution.codec().encode(obj.distribution, w)
        }

        if (obj.repairRequest != null) {
          w.uint32(58)
          GroupRepairRequest.codec().encode(obj.repairRequest, w)
        }

        if (obj.repairResponse != null) {
          w.uint32(66)
          GroupRepairResponse.codec().encode(obj.repairResponse, w)
        }

        if (obj.summary != null) {
          w.uint32(74)
          GroupSummary.codec().encode(obj.summary, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          groupId: uint8ArrayAlloc(0)
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
              obj.groupId = reader.bytes()
              break
            }
            case 3: {
              obj.invite = GroupInvite.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.invite
              })
              break
            }
            case 4: {
              obj.entry = GroupEntryMsg.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.entry
              })
              break
            }
            case 5: {
              obj.secret = GroupSecretMsg.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.secret
              })
              break
            }
            case 6: {
              obj.distribution = GroupDistribution.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.distribution
              })
              break
            }
            case 7: {
              obj.repairRequest = GroupRepairRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.repairRequest
              })
              break
            }
            case 8: {
              obj.repairResponse = GroupRepairResponse.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.repairResponse
              })
              break
            }
            case 9: {
              obj.summary = GroupSummary.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.summary
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
                field: `${prefix}.groupId`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield * GroupInvite.codec().stream(reader, reader.uint32(), `${prefix}.invite`, {
                limits: opts.limits?.invite
              })

              break
            }
            case 4: {
              yield * GroupEntryMsg.codec().stream(reader, reader.uint32(), `${prefix}.entry`, {
                limits: opts.limits?.entry
              })

              break
            }
            case 5: {
              yield * GroupSecretMsg.codec().stream(reader, reader.uint32(), `${prefix}.secret`, {
                limits: opts.limits?.secret
              })

              break
            }
            case 6: {
              yield * GroupDistribution.codec().stream(reader, reader.uint32(), `${prefix}.distribution`, {
                limits: opts.limits?.distribution
              })

              break
            }
            case 7: {
              yield * GroupRepairRequest.codec().stream(reader, reader.uint32(), `${prefix}.repairRequest`, {
                limits: opts.limits?.repairRequest
              })

              break
            }
            case 8: {
              yield * GroupRepairResponse.codec().stream(reader, reader.uint32(), `${prefix}.repairResponse`, {
                limits: opts.limits?.repairResponse
              })

              break
            }
            case 9: {
              yield * GroupSummary.codec().stream(reader, reader.uint32(), `${prefix}.summary`, {
                limits: opts.limits?.summary
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

  export interface GroupControlVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface GroupControlGroupIdFieldEvent {
    field: '$.groupId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlInviteLogFieldEvent {
    field: '$.invite.log[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlInviteSecretFieldEvent {
    field: '$.invite.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlInviteEpochFieldEvent {
    field: '$.invite.epoch'
    value: number
  }

  export interface GroupControlInviteAddrsMemberFieldEvent {
    field: '$.invite.addrs[].member'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupControlInviteAddrsAddrsFieldEvent {
    field: '$.invite.addrs[].addrs[]'
    index: number
    value: string
  }

  export interface GroupControlEntryEntryFieldEvent {
    field: '$.entry.entry'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlEntrySecretFieldEvent {
    field: '$.entry.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlEntryAddrsMemberFieldEvent {
    field: '$.entry.addrs[].member'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupControlEntryAddrsAddrsFieldEvent {
    field: '$.entry.addrs[].addrs[]'
    index: number
    value: string
  }

  export interface GroupControlSecretEpochFieldEvent {
    field: '$.secret.epoch'
    value: number
  }

  export interface GroupControlSecretSecretFieldEvent {
    field: '$.secret.secret'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlSecretHeadFieldEvent {
    field: '$.secret.head'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlDistributionDistributionFieldEvent {
    field: '$.distribution.distribution'
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlDistributionSeqFieldEvent {
    field: '$.distribution.seq'
    value: bigint
  }

  export interface GroupControlDistributionLamportFieldEvent {
    field: '$.distribution.lamport'
    value: bigint
  }

  export interface GroupControlDistributionEpochFieldEvent {
    field: '$.distribution.epoch'
    value: number
  }

  export interface GroupControlRepairRequestRangesSenderFieldEvent {
    field: '$.repairRequest.ranges[].sender'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupControlRepairRequestRangesFromFieldEvent {
    field: '$.repairRequest.ranges[].from'
    value: bigint
    index: number
  }

  export interface GroupControlRepairRequestRangesToFieldEvent {
    field: '$.repairRequest.ranges[].to'
    value: bigint
    index: number
  }

  export interface GroupControlRepairResponseMessagesFieldEvent {
    field: '$.repairResponse.messages[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface GroupControlSummaryDeliveredSenderFieldEvent {
    field: '$.summary.delivered[].sender'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface GroupControlSummaryDeliveredFromFieldEvent {
    field: '$.summary.delivered[].from'
    value: bigint
    index: number
  }

  export interface GroupControlSummaryDeliveredToFieldEvent {
    field: '$.summary.delivered[].to'
    value: bigint
    index: number
  }

  export function encode (obj: Partial<GroupControl>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, GroupControl.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupControl>): GroupControl {
    return decodeMessage(buf, GroupControl.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<GroupControl>): Generator<GroupControlVersionFieldEvent | GroupControlGroupIdFieldEvent | GroupControlInviteLogFieldEvent | GroupControlInviteSecretFieldEvent | GroupControlInviteEpochFieldEvent | GroupControlInviteAddrsMemberFieldEvent | GroupControlInviteAddrsAddrsFieldEvent | GroupControlEntryEntryFieldEvent | GroupControlEntrySecretFieldEvent | GroupControlEntryAddrsMemberFieldEvent | GroupControlEntryAddrsAddrsFieldEvent | GroupControlSecretEpochFieldEvent | GroupControlSecretSecretFieldEvent | GroupControlSecretHeadFieldEvent | GroupControlDistributionDistributionFieldEvent | GroupControlDistributionSeqFieldEvent | GroupControlDistributionLamportFieldEvent | GroupControlDistributionEpochFieldEvent | GroupControlRepairRequestRangesSenderFieldEvent | GroupControlRepairRequestRangesFromFieldEvent | GroupControlRepairRequestRangesToFieldEvent | GroupControlRepairResponseMessagesFieldEvent | GroupControlSummaryDeliveredSenderFieldEvent | GroupControlSummaryDeliveredFromFieldEvent | GroupControlSummaryDeliveredToFieldEvent> {
    return streamMessage(buf, GroupControl.codec(), opts)
  }
}
