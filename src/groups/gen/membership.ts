import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface MembershipEntryBody {
  version: number
  groupId: Uint8Array<ArrayBuffer>
  prev: Uint8Array<ArrayBuffer>
  height: number
  author: Uint8Array<ArrayBuffer>
  timestamp: bigint
  op: MembershipEntryBody.Op
  members: Uint8Array<ArrayBuffer>[]
  name: string
  nonce: Uint8Array<ArrayBuffer>
}

export namespace MembershipEntryBody {
  export enum Op {
    CREATE = 'CREATE',
    ADD = 'ADD',
    REMOVE = 'REMOVE',
    PROMOTE = 'PROMOTE',
    DEMOTE = 'DEMOTE',
    LEAVE = 'LEAVE'
  }

  enum __OpValues {
    CREATE = 0,
    ADD = 1,
    REMOVE = 2,
    PROMOTE = 3,
    DEMOTE = 4,
    LEAVE = 5
  }

  export namespace Op {
    export const codec = (): Codec<Op> => {
      return enumeration<Op>(__OpValues)
    }
  }

  let _codec: Codec<MembershipEntryBody>

  export const codec = (): Codec<MembershipEntryBody> => {
    if (_codec == null) {
      _codec = message<MembershipEntryBody>((obj, w, opts = {}) => {
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

        if ((obj.prev != null && obj.prev.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.prev)
        }

        if ((obj.height != null && obj.height !== 0)) {
          w.uint32(32)
          w.uint32(obj.height)
        }

        if ((obj.author != null && obj.author.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.author)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(48)
          w.uint64(obj.timestamp)
        }

        if (obj.op != null && __OpValues[obj.op] !== 0) {
          w.uint32(56)
          MembershipEntryBody.Op.codec().encode(obj.op, w)
        }

        if (obj.members != null && obj.members.length > 0) {
          for (const value of obj.members) {
            w.uint32(66)
            w.bytes(value)
          }
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(74)
          w.string(obj.name)
        }

        if ((obj.nonce != null && obj.nonce.byteLength > 0)) {
          w.uint32(82)
          w.bytes(obj.nonce)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          groupId: uint8ArrayAlloc(0),
          prev: uint8ArrayAlloc(0),
          height: 0,
          author: uint8ArrayAlloc(0),
          timestamp: 0n,
          op: Op.CREATE,
          members: [],
          name: '',
          nonce: uint8ArrayAlloc(0)
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
              obj.prev = reader.bytes()
              break
            }
            case 4: {
              obj.height = reader.uint32()
              break
            }
            case 5: {
              obj.author = reader.bytes()
              break
            }
            case 6: {
              obj.timestamp = reader.uint64()
              break
            }
            case 7: {
              obj.op = MembershipEntryBody.Op.codec().decode(reader)
              break
            }
            case 8: {
              if (opts.limits?.members != null && obj.members.length === opts.limits.members) {
                throw new MaxLengthError('Decode error - repeated field "members" had too many elements')
              }

              obj.members.push(reader.bytes())
              break
            }
            case 9: {
              obj.name = reader.string()
              break
            }
            case 10: {
              obj.nonce = reader.bytes()
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
          members: 0
        }

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
              yield {
                field: `${prefix}.prev`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.height`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.author`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.op`,
                value: MembershipEntryBody.Op.codec().decode(reader)
              }
              break
            }
            case 8: {
              if (opts.limits?.members != null && obj.members === opts.limits.members) {
                throw new MaxLengthError('Streaming decode error - repeated field "members" had too many elements')
              }

              yield {
                field: `${prefix}.members[]`,
                index: obj.members,
                value: reader.bytes()
              }

              obj.members++

              break
            }
            case 9: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 10: {
              yield {
                field: `${prefix}.nonce`,
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

  export interface MembershipEntryBodyVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface MembershipEntryBodyGroupIdFieldEvent {
    field: '$.groupId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipEntryBodyPrevFieldEvent {
    field: '$.prev'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipEntryBodyHeightFieldEvent {
    field: '$.height'
    value: number
  }

  export interface MembershipEntryBodyAuthorFieldEvent {
    field: '$.author'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipEntryBodyTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface MembershipEntryBodyOpFieldEvent {
    field: '$.op'
    value: MembershipEntryBody.Op
  }

  export interface MembershipEntryBodyMembersFieldEvent {
    field: '$.members[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface MembershipEntryBodyNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface MembershipEntryBodyNonceFieldEvent {
    field: '$.nonce'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<MembershipEntryBody>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MembershipEntryBody.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MembershipEntryBody>): MembershipEntryBody {
    return decodeMessage(buf, MembershipEntryBody.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MembershipEntryBody>): Generator<MembershipEntryBodyVersionFieldEvent | MembershipEntryBodyGroupIdFieldEvent | MembershipEntryBodyPrevFieldEvent | MembershipEntryBodyHeightFieldEvent | MembershipEntryBodyAuthorFieldEvent | MembershipEntryBodyTimestampFieldEvent | MembershipEntryBodyOpFieldEvent | MembershipEntryBodyMembersFieldEvent | MembershipEntryBodyNameFieldEvent | MembershipEntryBodyNonceFieldEvent> {
    return streamMessage(buf, MembershipEntryBody.codec(), opts)
  }
}

export interface SignedMembershipEntry {
  body: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedMembershipEntry {
  let _codec: Codec<SignedMembershipEntry>

  export const codec = (): Codec<SignedMembershipEntry> => {
    if (_codec == null) {
      _codec = message<SignedMembershipEntry>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.body != null && obj.body.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.body)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          body: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.body = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
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
                field: `${prefix}.body`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
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

  export interface SignedMembershipEntryBodyFieldEvent {
    field: '$.body'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedMembershipEntrySignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedMembershipEntry>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedMembershipEntry.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedMembershipEntry>): SignedMembershipEntry {
    return decodeMessage(buf, SignedMembershipEntry.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedMembershipEntry>): Generator<SignedMembershipEntryBodyFieldEvent | SignedMembershipEntrySignatureFieldEvent> {
    return streamMessage(buf, SignedMembershipEntry.codec(), opts)
  }
}
