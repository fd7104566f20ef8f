/**
 * What the crypto group needs from each implementation it compares. Both contenders keep their session
 * records as serialised bytes in a Map and (de)serialise them on every message, as a real store would.
 */
import type { Contestant } from '../measure.js'

export type PartyName = 'alice' | 'bob'

/** Two parties whose session is established and confirmed both ways (no prekey header left). */
export interface ChatPair {
  /**
   * Encrypts `plaintext` at `from` (loading and saving its record), serialises the ciphertext to bytes,
   * then decrypts those bytes at the other party (loading and saving its record). Returns the plaintext
   * the receiver got.
   */
  send: (from: PartyName, plaintext: Uint8Array<ArrayBuffer>) => Promise<Uint8Array>
}

export interface CryptoContender {
  /** Package and version, for the report. */
  name: string
  createPair: () => Promise<ChatPair>
  /**
   * Session set-up: `prepare(n)` publishes n prekey bundles (untimed, Bob's offline work); `run(n)`
   * performs n set-ups, each from "Alice has Bob's bundle" to "Bob has decrypted Alice's first
   * (PreKey) message", with fresh session stores for both sides.
   */
  setups: () => Promise<Contestant>
}
