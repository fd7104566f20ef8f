/**
 * The active CryptoPrimitives. On Node this is node:crypto; bundlers honour the package.json
 * "browser" field, which maps ./node.js to ./browser-impl.js (WebCrypto).
 */
export { nodePrimitives as primitives } from './node.js'
export * from './types.js'
