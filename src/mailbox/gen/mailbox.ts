import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface MailboxRequest {
  deposit?: DepositRequest
  fetch?: FetchRequest
  ack?: AckRequest
  batch?: DepositBatch
}

export namespace MailboxRequest {
  let _codec: Codec<MailboxRequest>

  export const codec = (): Codec<MailboxRequest> => {
    if (_codec == null) {
      _codec = message<MailboxRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.deposit != null) {
          w.uint32(10)
          DepositRequest.codec().encode(obj.deposit, w)
        }

        if (obj.fetch != null) {
          w.uint32(18)
          FetchRequest.codec().encode(obj.fetch, w)
        }

        if (obj.ack != null) {
          w.uint32(26)
          AckRequest.codec().encode(obj.ack, w)
        }

        if (obj.batch != null) {
          w.uint32(34)
          DepositBatch.codec().encode(obj.batch, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.deposit = DepositRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.deposit
              })
              break
            }
            case 2: {
              obj.fetch = FetchRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.fetch
              })
              break
            }
            case 3: {
              obj.ack = AckRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.ack
              })
              break
            }
            case 4: {
              obj.batch = DepositBatch.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.batch
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
              yield * DepositRequest.codec().stream(reader, reader.uint32(), `${prefix}.deposit`, {
                limits: opts.limits?.deposit
              })

              break
            }
            case 2: {
              yield * FetchRequest.codec().stream(reader, reader.uint32(), `${prefix}.fetch`, {
                limits: opts.limits?.fetch
              })

              break
            }
            case 3: {
              yield * AckRequest.codec().stream(reader, reader.uint32(), `${prefix}.ack`, {
                limits: opts.limits?.ack
              })

              break
            }
            case 4: {
              yield * DepositBatch.codec().stream(reader, reader.uint32(), `${prefix}.batch`, {
                limits: opts.limits?.batch
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

  export interface MailboxRequestDepositTagFieldEvent {
    field: '$.deposit.tag'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MailboxRequestDepositClientIdFieldEvent {
    field: '$.deposit.clientId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MailboxRequestDepositSealedFieldEvent {
    field: '$.deposit.sealed'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MailboxRequestFetchAuthTimestampFieldEvent {
    field: '$.fetch.auth.timestamp'
    value: bigint
  }

  export interface MailboxRequestFetchAuthProofsOwnerKeyFieldEvent {
    field: '$.fetch.auth.proofs[].ownerKey'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRequestFetchAuthProofsSignatureFieldEvent {
    field: '$.fetch.auth.proofs[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRequestFetchAfterFieldEvent {
    field: '$.fetch.after'
    value: bigint
  }

  export interface MailboxRequestFetchLimitFieldEvent {
    field: '$.fetch.limit'
    value: number
  }

  export interface MailboxRequestAckAuthTimestampFieldEvent {
    field: '$.ack.auth.timestamp'
    value: bigint
  }

  export interface MailboxRequestAckAuthProofsOwnerKeyFieldEvent {
    field: '$.ack.auth.proofs[].ownerKey'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRequestAckAuthProofsSignatureFieldEvent {
    field: '$.ack.auth.proofs[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRequestAckIdsFieldEvent {
    field: '$.ack.ids[]'
    index: number
    value: bigint
  }

  export interface MailboxRequestBatchItemsTagFieldEvent {
    field: '$.batch.items[].tag'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRequestBatchItemsClientIdFieldEvent {
    field: '$.batch.items[].clientId'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxRequestBatchItemsSealedFieldEvent {
    field: '$.batch.items[].sealed'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<MailboxRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MailboxRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxRequest>): MailboxRequest {
    return decodeMessage(buf, MailboxRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxRequest>): Generator<MailboxRequestDepositTagFieldEvent | MailboxRequestDepositClientIdFieldEvent | MailboxRequestDepositSealedFieldEvent | MailboxRequestFetchAuthTimestampFieldEvent | MailboxRequestFetchAuthProofsOwnerKeyFieldEvent | MailboxRequestFetchAuthProofsSignatureFieldEvent | MailboxRequestFetchAfterFieldEvent | MailboxRequestFetchLimitFieldEvent | MailboxRequestAckAuthTimestampFieldEvent | MailboxRequestAckAuthProofsOwnerKeyFieldEvent | MailboxRequestAckAuthProofsSignatureFieldEvent | MailboxRequestAckIdsFieldEvent | MailboxRequestBatchItemsTagFieldEvent | MailboxRequestBatchItemsClientIdFieldEvent | MailboxRequestBatchItemsSealedFieldEvent> {
    return streamMessage(buf, MailboxRequest.codec(), opts)
  }
}

export interface DepositBatch {
  items: DepositRequest[]
}

export namespace DepositBatch {
  let _codec: Codec<DepositBatch>

  export const codec = (): Codec<DepositBatch> => {
    if (_codec == null) {
      _codec = message<DepositBatch>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.items != null && obj.items.length > 0) {
          for (const value of obj.items) {
            w.uint32(10)
            DepositRequest.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          items: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.items != null && obj.items.length === opts.limits.items) {
                throw new MaxLengthError('Decode error - repeated field "items" had too many elements')
              }

              obj.items.push(DepositRequest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.items$
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
          items: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.items != null && obj.items === opts.limits.items) {
                throw new MaxLengthError('Streaming decode error - repeated field "items" had too many elements')
              }

              for (const evt of DepositRequest.codec().stream(reader, reader.uint32(), `${prefix}.items[]`, {
                limits: opts.limits?.items$
              })) {
                yield {
                  ...evt,
                  index: obj.items
                }
              }

              obj.items++

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

  export interface DepositBatchItemsTagFieldEvent {
    field: '$.items[].tag'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DepositBatchItemsClientIdFieldEvent {
    field: '$.items[].clientId'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface DepositBatchItemsSealedFieldEvent {
    field: '$.items[].sealed'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<DepositBatch>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DepositBatch.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositBatch>): DepositBatch {
    return decodeMessage(buf, DepositBatch.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositBatch>): Generator<DepositBatchItemsTagFieldEvent | DepositBatchItemsClientIdFieldEvent | DepositBatchItemsSealedFieldEvent> {
    return streamMessage(buf, DepositBatch.codec(), opts)
  }
}

export interface DepositRequest {
  tag: Uint8Array<ArrayBuffer>
  clientId: Uint8Array<ArrayBuffer>
  sealed: Uint8Array<ArrayBuffer>
}

export namespace DepositRequest {
  let _codec: Codec<DepositRequest>

  export const codec = (): Codec<DepositRequest> => {
    if (_codec == null) {
      _codec = message<DepositRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.tag != null && obj.tag.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.tag)
        }

        if ((obj.clientId != null && obj.clientId.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.clientId)
        }

        if ((obj.sealed != null && obj.sealed.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.sealed)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          tag: uint8ArrayAlloc(0),
          clientId: uint8ArrayAlloc(0),
          sealed: uint8ArrayAlloc(0)
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
              obj.clientId = reader.bytes()
              break
            }
            case 3: {
              obj.sealed = reader.bytes()
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
                field: `${prefix}.tag`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.clientId`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.sealed`,
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

  export interface DepositRequestTagFieldEvent {
    field: '$.tag'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DepositRequestClientIdFieldEvent {
    field: '$.clientId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface DepositRequestSealedFieldEvent {
    field: '$.sealed'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<DepositRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DepositRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositRequest>): DepositRequest {
    return decodeMessage(buf, DepositRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositRequest>): Generator<DepositRequestTagFieldEvent | DepositRequestClientIdFieldEvent | DepositRequestSealedFieldEvent> {
    return streamMessage(buf, DepositRequest.codec(), opts)
  }
}

export interface TagProof {
  ownerKey: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace TagProof {
  let _codec: Codec<TagProof>

  export const codec = (): Codec<TagProof> => {
    if (_codec == null) {
      _codec = message<TagProof>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.ownerKey != null && obj.ownerKey.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.ownerKey)
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
          ownerKey: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.ownerKey = reader.bytes()
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
                field: `${prefix}.ownerKey`,
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

  export interface TagProofOwnerKeyFieldEvent {
    field: '$.ownerKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TagProofSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<TagProof>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TagProof.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TagProof>): TagProof {
    return decodeMessage(buf, TagProof.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TagProof>): Generator<TagProofOwnerKeyFieldEvent | TagProofSignatureFieldEvent> {
    return streamMessage(buf, TagProof.codec(), opts)
  }
}

export interface Auth {
  timestamp: bigint
  proofs: TagProof[]
}

export namespace Auth {
  let _codec: Codec<Auth>

  export const codec = (): Codec<Auth> => {
    if (_codec == null) {
      _codec = message<Auth>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(8)
          w.uint64(obj.timestamp)
        }

        if (obj.proofs != null && obj.proofs.length > 0) {
          for (const value of obj.proofs) {
            w.uint32(18)
            TagProof.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          timestamp: 0n,
          proofs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.timestamp = reader.uint64()
              break
            }
            case 2: {
              if (opts.limits?.proofs != null && obj.proofs.length === opts.limits.proofs) {
                throw new MaxLengthError('Decode error - repeated field "proofs" had too many elements')
              }

              obj.proofs.push(TagProof.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.proofs$
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
          proofs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              if (opts.limits?.proofs != null && obj.proofs === opts.limits.proofs) {
                throw new MaxLengthError('Streaming decode error - repeated field "proofs" had too many elements')
              }

              for (const evt of TagProof.codec().stream(reader, reader.uint32(), `${prefix}.proofs[]`, {
                limits: opts.limits?.proofs$
              })) {
                yield {
                  ...evt,
                  index: obj.proofs
                }
              }

              obj.proofs++

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

  export interface AuthTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface AuthProofsOwnerKeyFieldEvent {
    field: '$.proofs[].ownerKey'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AuthProofsSignatureFieldEvent {
    field: '$.proofs[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export function encode (obj: Partial<Auth>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Auth.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Auth>): Auth {
    return decodeMessage(buf, Auth.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Auth>): Generator<AuthTimestampFieldEvent | AuthProofsOwnerKeyFieldEvent | AuthProofsSignatureFieldEvent> {
    return streamMessage(buf, Auth.codec(), opts)
  }
}

export interface FetchRequest {
  auth?: Auth
  after: bigint
  limit: number
}

export namespace FetchRequest {
  let _codec: Codec<FetchRequest>

  export const codec = (): Codec<FetchRequest> => {
    if (_codec == null) {
      _codec = message<FetchRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.auth != null) {
          w.uint32(10)
          Auth.codec().encode(obj.auth, w)
        }

        if ((obj.after != null && obj.after !== 0n)) {
          w.uint32(16)
          w.uint64(obj.after)
        }

        if ((obj.limit != null && obj.limit !== 0)) {
          w.uint32(24)
          w.uint32(obj.limit)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          after: 0n,
          limit: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.auth = Auth.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.auth
              })
              break
            }
            case 2: {
              obj.after = reader.uint64()
              break
            }
            case 3: {
              obj.limit = reader.uint32()
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
              yield * Auth.codec().stream(reader, reader.uint32(), `${prefix}.auth`, {
                limits: opts.limits?.auth
              })

              break
            }
            case 2: {
              yield {
                field: `${prefix}.after`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.limit`,
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

  export interface FetchRequestAuthTimestampFieldEvent {
    field: '$.auth.timestamp'
    value: bigint
  }

  export interface FetchRequestAuthProofsOwnerKeyFieldEvent {
    field: '$.auth.proofs[].ownerKey'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FetchRequestAuthProofsSignatureFieldEvent {
    field: '$.auth.proofs[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface FetchRequestAfterFieldEvent {
    field: '$.after'
    value: bigint
  }

  export interface FetchRequestLimitFieldEvent {
    field: '$.limit'
    value: number
  }

  export function encode (obj: Partial<FetchRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, FetchRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchRequest>): FetchRequest {
    return decodeMessage(buf, FetchRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<FetchRequest>): Generator<FetchRequestAuthTimestampFieldEvent | FetchRequestAuthProofsOwnerKeyFieldEvent | FetchRequestAuthProofsSignatureFieldEvent | FetchRequestAfterFieldEvent | FetchRequestLimitFieldEvent> {
    return streamMessage(buf, FetchRequest.codec(), opts)
  }
}

export interface AckRequest {
  auth?: Auth
  ids: bigint[]
}

export namespace AckRequest {
  let _codec: Codec<AckRequest>

  export const codec = (): Codec<AckRequest> => {
    if (_codec == null) {
      _codec = message<AckRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.auth != null) {
          w.uint32(10)
          Auth.codec().encode(obj.auth, w)
        }

        if (obj.ids != null && obj.ids.length > 0) {
          for (const value of obj.ids) {
            w.uint32(16)
            w.uint64(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          ids: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.auth = Auth.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.auth
              })
              break
            }
            case 2: {
              if (opts.limits?.ids != null && obj.ids.length === opts.limits.ids) {
                throw new MaxLengthError('Decode error - repeated field "ids" had too many elements')
              }

              obj.ids.push(reader.uint64())
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
          ids: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Auth.codec().stream(reader, reader.uint32(), `${prefix}.auth`, {
                limits: opts.limits?.auth
              })

              break
            }
            case 2: {
              if (opts.limits?.ids != null && obj.ids === opts.limits.ids) {
                throw new MaxLengthError('Streaming decode error - repeated field "ids" had too many elements')
              }

              yield {
                field: `${prefix}.ids[]`,
                index: obj.ids,
                value: reader.uint64()
              }

              obj.ids++

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

  export interface AckRequestAuthTimestampFieldEvent {
    field: '$.auth.timestamp'
    value: bigint
  }

  export interface AckRequestAuthProofsOwnerKeyFieldEvent {
    field: '$.auth.proofs[].ownerKey'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AckRequestAuthProofsSignatureFieldEvent {
    field: '$.auth.proofs[].signature'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface AckRequestIdsFieldEvent {
    field: '$.ids[]'
    index: number
    value: bigint
  }

  export function encode (obj: Partial<AckRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, AckRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AckRequest>): AckRequest {
    return decodeMessage(buf, AckRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<AckRequest>): Generator<AckRequestAuthTimestampFieldEvent | AckRequestAuthProofsOwnerKeyFieldEvent | AckRequestAuthProofsSignatureFieldEvent | AckRequestIdsFieldEvent> {
    return streamMessage(buf, AckRequest.codec(), opts)
  }
}

export enum Status {
  OK = 'OK',
  FULL = 'FULL',
  RATE_LIMITED = 'RATE_LIMITED',
  MALFORMED = 'MALFORMED',
  REFUSED = 'REFUSED',
  ERROR = 'ERROR'
}

enum __StatusValues {
  OK = 0,
  FULL = 1,
  RATE_LIMITED = 2,
  MALFORMED = 3,
  REFUSED = 4,
  ERROR = 5
}

export namespace Status {
  export const codec = (): Codec<Status> => {
    return enumeration<Status>(__StatusValues)
  }
}

export interface Item {
  id: bigint
  tag: Uint8Array<ArrayBuffer>
  sealed: Uint8Array<ArrayBuffer>
  depositedAt: bigint
}

export namespace Item {
  let _codec: Codec<Item>

  export const codec = (): Codec<Item> => {
    if (_codec == null) {
      _codec = message<Item>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id !== 0n)) {
          w.uint32(8)
          w.uint64(obj.id)
        }

        if ((obj.tag != null && obj.tag.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.tag)
        }

        if ((obj.sealed != null && obj.sealed.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.sealed)
        }

        if ((obj.depositedAt != null && obj.depositedAt !== 0n)) {
          w.uint32(32)
          w.uint64(obj.depositedAt)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: 0n,
          tag: uint8ArrayAlloc(0),
          sealed: uint8ArrayAlloc(0),
          depositedAt: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.uint64()
              break
            }
            case 2: {
              obj.tag = reader.bytes()
              break
            }
            case 3: {
              obj.sealed = reader.bytes()
              break
            }
            case 4: {
              obj.depositedAt = reader.uint64()
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
                value: reader.uint64()
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
            case 3: {
              yield {
                field: `${prefix}.sealed`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.depositedAt`,
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

  export interface ItemIdFieldEvent {
    field: '$.id'
    value: bigint
  }

  export interface ItemTagFieldEvent {
    field: '$.tag'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ItemSealedFieldEvent {
    field: '$.sealed'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ItemDepositedAtFieldEvent {
    field: '$.depositedAt'
    value: bigint
  }

  export function encode (obj: Partial<Item>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Item.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Item>): Item {
    return decodeMessage(buf, Item.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Item>): Generator<ItemIdFieldEvent | ItemTagFieldEvent | ItemSealedFieldEvent | ItemDepositedAtFieldEvent> {
    return streamMessage(buf, Item.codec(), opts)
  }
}

export interface MailboxResponse {
  status: Status
  reason?: string
  serverId: bigint
  duplicate: boolean
  retryAfterMs: number
  items: Item[]
  more: boolean
  deleted: number
  results: DepositResult[]
}

export namespace MailboxResponse {
  let _codec: Codec<MailboxResponse>

  export const codec = (): Codec<MailboxResponse> => {
    if (_codec == null) {
      _codec = message<MailboxResponse>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          Status.codec().encode(obj.status, w)
        }

        if (obj.reason != null) {
          w.uint32(18)
          w.string(obj.reason)
        }

        if ((obj.serverId != null && obj.serverId !== 0n)) {
          w.uint32(24)
          w.uint64(obj.serverId)
        }

        if ((obj.duplicate != null && obj.duplicate !== false)) {
          w.uint32(32)
          w.bool(obj.duplicate)
        }

        if ((obj.retryAfterMs != null && obj.retryAfterMs !== 0)) {
          w.uint32(40)
          w.uint32(obj.retryAfterMs)
        }

        if (obj.items != null && obj.items.length > 0) {
          for (const value of obj.items) {
            w.uint32(50)
            Item.codec().encode(value, w)
          }
        }

        if ((obj.more != null && obj.more !== false)) {
          w.uint32(56)
          w.bool(obj.more)
        }

        if ((obj.deleted != null && obj.deleted !== 0)) {
          w.uint32(64)
          w.uint32(obj.deleted)
        }

        if (obj.results != null && obj.results.length > 0) {
          for (const value of obj.results) {
            w.uint32(74)
            DepositResult.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          serverId: 0n,
          duplicate: false,
          retryAfterMs: 0,
          items: [],
          more: false,
          deleted: 0,
          results: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.reason = reader.string()
              break
            }
            case 3: {
              obj.serverId = reader.uint64()
              break
            }
            case 4: {
              obj.duplicate = reader.bool()
              break
            }
            case 5: {
              obj.retryAfterMs = reader.uint32()
              break
            }
            case 6: {
              if (opts.limits?.items != null && obj.items.length === opts.limits.items) {
                throw new MaxLengthError('Decode error - repeated field "items" had too many elements')
              }

              obj.items.push(Item.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.items$
              }))
              break
            }
            case 7: {
              obj.more = reader.bool()
              break
            }
            case 8: {
              obj.deleted = reader.uint32()
              break
            }
            case 9: {
              if (opts.limits?.results != null && obj.results.length === opts.limits.results) {
                throw new MaxLengthError('Decode error - repeated field "results" had too many elements')
              }

              obj.results.push(DepositResult.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.results$
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
          items: 0,
          results: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.serverId`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.duplicate`,
                value: reader.bool()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.retryAfterMs`,
                value: reader.uint32()
              }
              break
            }
            case 6: {
              if (opts.limits?.items != null && obj.items === opts.limits.items) {
                throw new MaxLengthError('Streaming decode error - repeated field "items" had too many elements')
              }

              for (const evt of Item.codec().stream(reader, reader.uint32(), `${prefix}.items[]`, {
                limits: opts.limits?.items$
              })) {
                yield {
                  ...evt,
                  index: obj.items
                }
              }

              obj.items++

              break
            }
            case 7: {
              yield {
                field: `${prefix}.more`,
                value: reader.bool()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.deleted`,
                value: reader.uint32()
              }
              break
            }
            case 9: {
              if (opts.limits?.results != null && obj.results === opts.limits.results) {
                throw new MaxLengthError('Streaming decode error - repeated field "results" had too many elements')
              }

              for (const evt of DepositResult.codec().stream(reader, reader.uint32(), `${prefix}.results[]`, {
                limits: opts.limits?.results$
              })) {
                yield {
                  ...evt,
                  index: obj.results
                }
              }

              obj.results++

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

  export interface MailboxResponseStatusFieldEvent {
    field: '$.status'
    value: Status
  }

  export interface MailboxResponseReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export interface MailboxResponseServerIdFieldEvent {
    field: '$.serverId'
    value: bigint
  }

  export interface MailboxResponseDuplicateFieldEvent {
    field: '$.duplicate'
    value: boolean
  }

  export interface MailboxResponseRetryAfterMsFieldEvent {
    field: '$.retryAfterMs'
    value: number
  }

  export interface MailboxResponseItemsIdFieldEvent {
    field: '$.items[].id'
    value: bigint
    index: number
  }

  export interface MailboxResponseItemsTagFieldEvent {
    field: '$.items[].tag'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxResponseItemsSealedFieldEvent {
    field: '$.items[].sealed'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MailboxResponseItemsDepositedAtFieldEvent {
    field: '$.items[].depositedAt'
    value: bigint
    index: number
  }

  export interface MailboxResponseMoreFieldEvent {
    field: '$.more'
    value: boolean
  }

  export interface MailboxResponseDeletedFieldEvent {
    field: '$.deleted'
    value: number
  }

  export interface MailboxResponseResultsStatusFieldEvent {
    field: '$.results[].status'
    value: Status
    index: number
  }

  export interface MailboxResponseResultsReasonFieldEvent {
    field: '$.results[].reason'
    value: string
    index: number
  }

  export interface MailboxResponseResultsServerIdFieldEvent {
    field: '$.results[].serverId'
    value: bigint
    index: number
  }

  export interface MailboxResponseResultsDuplicateFieldEvent {
    field: '$.results[].duplicate'
    value: boolean
    index: number
  }

  export function encode (obj: Partial<MailboxResponse>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, MailboxResponse.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxResponse>): MailboxResponse {
    return decodeMessage(buf, MailboxResponse.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<MailboxResponse>): Generator<MailboxResponseStatusFieldEvent | MailboxResponseReasonFieldEvent | MailboxResponseServerIdFieldEvent | MailboxResponseDuplicateFieldEvent | MailboxResponseRetryAfterMsFieldEvent | MailboxResponseItemsIdFieldEvent | MailboxResponseItemsTagFieldEvent | MailboxResponseItemsSealedFieldEvent | MailboxResponseItemsDepositedAtFieldEvent | MailboxResponseMoreFieldEvent | MailboxResponseDeletedFieldEvent | MailboxResponseResultsStatusFieldEvent | MailboxResponseResultsReasonFieldEvent | MailboxResponseResultsServerIdFieldEvent | MailboxResponseResultsDuplicateFieldEvent> {
    return streamMessage(buf, MailboxResponse.codec(), opts)
  }
}

export interface DepositResult {
  status: Status
  reason?: string
  serverId: bigint
  duplicate: boolean
}

export namespace DepositResult {
  let _codec: Codec<DepositResult>

  export const codec = (): Codec<DepositResult> => {
    if (_codec == null) {
      _codec = message<DepositResult>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          Status.codec().encode(obj.status, w)
        }

        if (obj.reason != null) {
          w.uint32(18)
          w.string(obj.reason)
        }

        if ((obj.serverId != null && obj.serverId !== 0n)) {
          w.uint32(24)
          w.uint64(obj.serverId)
        }

        if ((obj.duplicate != null && obj.duplicate !== false)) {
          w.uint32(32)
          w.bool(obj.duplicate)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          serverId: 0n,
          duplicate: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.reason = reader.string()
              break
            }
            case 3: {
              obj.serverId = reader.uint64()
              break
            }
            case 4: {
              obj.duplicate = reader.bool()
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
                field: `${prefix}.status`,
                value: Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.serverId`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.duplicate`,
                value: reader.bool()
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

  export interface DepositResultStatusFieldEvent {
    field: '$.status'
    value: Status
  }

  export interface DepositResultReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export interface DepositResultServerIdFieldEvent {
    field: '$.serverId'
    value: bigint
  }

  export interface DepositResultDuplicateFieldEvent {
    field: '$.duplicate'
    value: boolean
  }

  export function encode (obj: Partial<DepositResult>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, DepositResult.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositResult>): DepositResult {
    return decodeMessage(buf, DepositResult.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<DepositResult>): Generator<DepositResultStatusFieldEvent | DepositResultReasonFieldEvent | DepositResultServerIdFieldEvent | DepositResultDuplicateFieldEvent> {
    return streamMessage(buf, DepositResult.codec(), opts)
  }
}
