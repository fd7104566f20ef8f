/**
 * `parley group …` (issue 5): create, list, add, remove, leave, send, messages. Like the other
 * conversation commands they talk to the home's daemon (or the node `parley chat` runs in-process);
 * with --json each prints exactly one document: GroupInfo, GroupInfo[], GroupMessageInfo or
 * GroupMessageInfo[] (oldest first, by `seq`).
 */
import type { ParleyNodeApi } from '../core/api.js'
import type { ParsedArgs } from './args.js'
import { UsageError } from './errors.js'
import { formatGroup, formatGroupMessages, formatGroups, memberLabel, sanitize, STATUS_MARK } from './format.js'
import type { CliContext } from './main.js'

/** Largest `--limit` accepted (the daemon's response cap bounds the real size). */
const MAX_LIMIT = 1_000_000

export function isGroupCommand (cmd: string): boolean {
  return cmd.startsWith('group ')
}

/** Runs one `group …` command against `node`; throws UsageError for bad arguments, node errors unchanged. */
export async function runGroupCommand (ctx: CliContext, node: ParleyNodeApi, cmd: string, a: ParsedArgs['args'], f: ParsedArgs['flags']): Promise<void> {
  const group = a.GROUP ?? ''
  const peer = a.PEER ?? ''
  // Human output names "me"; --json output needs no extra round trip.
  const self = async (): Promise<string | undefined> => ctx.json ? undefined : (await node.id()).peerId
  switch (cmd) {
    case 'group create': {
      const name = a.NAME ?? ''
      if (name.trim() === '') throw new UsageError('NAME must not be empty', cmd)
      const members = Array.isArray(f.member) ? f.member : []
      const g = await node.createGroup(name, members.length > 0 ? { members } : {})
      const me = await self()
      ctx.print(g, formatGroup(g, `Created group ${sanitize(g.name)} with ${g.members.length} member${g.members.length === 1 ? '' : 's'}.`, me) +
        `Send with: parley group send ${g.groupId} TEXT\n`)
      return
    }
    case 'group list': {
      const l = await node.listGroups()
      ctx.print(l, formatGroups(l, await self()))
      return
    }
    case 'group add': {
      const g = await node.addGroupMember(group, peer)
      const me = await self()
      const added = g.members.find((m) => m.peerId === peer || m.name === peer)
      ctx.print(g, formatGroup(g, `Added ${added != null ? memberLabel(added.peerId, added.name, me) : sanitize(peer)} to ${sanitize(g.name)}.`, me))
      return
    }
    case 'group remove': {
      const g = await node.removeGroupMember(group, peer)
      ctx.print(g, formatGroup(g, `Removed ${sanitize(peer)} from ${sanitize(g.name)}; the remaining members' sender keys rotated (epoch ${g.epoch}).`, await self()))
      return
    }
    case 'group leave': {
      const g = await node.leaveGroup(group)
      ctx.print(g, `Left ${sanitize(g.name)}. Its history stays readable: parley group messages ${g.groupId}\n`)
      return
    }
    case 'group send': {
      const m = await node.sendGroup(group, a.TEXT ?? '')
      ctx.print(m, `${STATUS_MARK[m.status]} ${m.status}  ${m.id}\n`)
      return
    }
    case 'group messages': {
      const limit = positiveInteger(typeof f.limit === 'string' ? f.limit : undefined, 'limit', cmd)
      const l = await node.groupMessages(group, limit != null ? { limit } : {})
      const sorted = [...l].sort((x, y) => x.seq - y.seq)
      if (ctx.json) { ctx.print(sorted, ''); return }
      const name = (await node.listGroups()).find((g) => g.groupId === group || g.name === group)?.name ?? group
      ctx.print(sorted, formatGroupMessages(sorted, name, await self()))
      return
    }
  }
  throw new UsageError(`unknown command "${cmd}"`)
}

function positiveInteger (v: string | undefined, flag: string, cmd: string): number | undefined {
  if (v == null) return undefined
  const n = Number(v)
  if (!Number.isSafeInteger(n) || n <= 0 || n > MAX_LIMIT) throw new UsageError(`--${flag} must be a positive integer (at most ${MAX_LIMIT})`, cmd)
  return n
}
