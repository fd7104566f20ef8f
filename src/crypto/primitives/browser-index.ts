/** Browser build of ./index.ts (selected by the package.json "browser" field). */
export { webPrimitives as primitives } from './web.js'
export * from './types.js'
