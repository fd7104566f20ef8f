/**
 * What a membership change means for keys (docs/parts/groups.md §5). Pure: given the group state
 * before and after an entry, says who joined and left, whether every remaining member must rotate its
 * sender key and the group secret must be replaced (any departure: Signal's sender-key rule that a
 * removed member must not hold a current chain), and to whom each member must send its sender-key
 * distribution over the pairwise sessions.
 */
import type { GroupState, MemberId } from './membership.js'

export interface MembershipDelta {
  readonly added: readonly MemberId[]
  readonly removed: readonly MemberId[]
  /** True when anyone left: every remaining member creates a new sender chain; a new group secret is made. */
  readonly rotate: boolean
  /** The epoch the group is in after the change (the topic is deriveTopic(secret, epoch)). */
  readonly epoch: number
}

export function membershipDelta (before: GroupState, after: GroupState): MembershipDelta {
  const b = new Set(before.members)
  const a = new Set(after.members)
  const added = after.members.filter(m => !b.has(m))
  const removed = before.members.filter(m => !a.has(m))
  return { added, removed, rotate: removed.length > 0 || after.epoch !== before.epoch, epoch: after.epoch }
}

/**
 * Members `self` must send its (current, or freshly rotated) sender-key distribution to after the change:
 * everybody else when it rotated or is itself new; otherwise only the newcomers (who then cannot read earlier messages,
 * because the distribution carries the chain key at the current iteration only).
 */
export function distributionTargets (self: MemberId, delta: MembershipDelta, after: GroupState): MemberId[] {
  if (!after.members.includes(self)) return []
  // A rotated chain goes to everyone; a newcomer's first chain too.
  if (delta.rotate || delta.added.includes(self)) return after.members.filter(m => m !== self)
  return delta.added.filter(m => m !== self)
}
