/**
 * PQXDH (Signal spec "The PQXDH Key Agreement Protocol", rev. 3 — cited as PQXDH §n): X3DH plus a
 * KEM encapsulation to the responder's signed post-quantum prekey:
 *
 *   (CT, SS) = PQKEM-ENC(PQPK_B)
 *   SK = HKDF-SHA256(F || DH1 || DH2 || DH3 [|| DH4] || SS, salt = 0^32, info = PQXDH_INFO, 64)
 *
 * The KEM is ML-KEM-1024 (kem.ts). The initial message carries CT and the PQ prekey id (fields 7 and
 * 8 of PreKeySignalMessage, version byte 0x44, as libsignal-client's v4).
 */
import { MalformedInputError } from './errors.js'
import { kemDecapsulate, kemEncapsulate, KEM_NAME } from './kem.js'
import { deriveSessionSecrets, type SessionSecrets } from './x3dh.js'

/** PQXDH §2.1 info: identifies the application, curve, hash and KEM. */
export const PQXDH_INFO = `Parley_PQXDH_X25519_SHA-256_${KEM_NAME}`

/** Encapsulation hook (injectable for known-answer tests). */
export type KemEncapsulateFn = (encodedPublicKey: Uint8Array) => { ciphertext: Uint8Array, sharedSecret: Uint8Array }

/** PQXDH §3.3: encapsulate to PQPK_B and derive SK from the DH outputs and SS. */
export async function pqxdhInitiatorSecrets (dhParts: Uint8Array[], kyberPreKey: Uint8Array, encapsulate: KemEncapsulateFn = kemEncapsulate): Promise<SessionSecrets & { kemCiphertext: Uint8Array }> {
  const { ciphertext, sharedSecret } = encapsulate(kyberPreKey)
  const secrets = await deriveSessionSecrets([...dhParts, sharedSecret], PQXDH_INFO)
  sharedSecret.fill(0)
  return { ...secrets, kemCiphertext: ciphertext }
}

/** PQXDH §3.4: decapsulate CT with PQSK_B and derive SK likewise. */
export async function pqxdhResponderSecrets (dhParts: Uint8Array[], kemCiphertext: Uint8Array, kemSecretKey: Uint8Array): Promise<SessionSecrets> {
  let ss: Uint8Array
  try {
    ss = kemDecapsulate(kemCiphertext, kemSecretKey)
  } catch (err) {
    throw new MalformedInputError('KEM ciphertext unusable', { cause: err })
  }
  const secrets = await deriveSessionSecrets([...dhParts, ss], PQXDH_INFO)
  ss.fill(0)
  return secrets
}
