/**
 * @packageDocumentation
 *
 * The group core: the signed membership log (`membership.ts`), what membership changes mean for keys
 * (`group.ts`), and causal ordering (`causal.ts`). Pure TypeScript over plain data — no libp2p, no
 * store; sender keys themselves live in `src/crypto/sender-keys.ts`. Wire/algorithm description:
 * docs/PROTOCOL.md Part 5.
 *
 * @example
 * ```ts
 * const { entry, state } = await createGroup(me, { name: 'team', members: [aliceKey, bobKey] })
 * let log = await startLog(entry)
 * log = (await appendToLog(log, receivedEntryBytes)).log   // throws a ParleyGroupError subclass if refused
 * const topic = await deriveTopic(groupSecret, log.state.epoch)
 * ```
 */
export * from './errors.js'
export * from './membership.js'
export * from './group.js'
export * from './causal.js'
