// A mailbox host in its own process (for the kill -9 test): argv[2] = home. Prints its multiaddrs
// as one JSON line on stdout once it serves, then runs until killed.
import { MailboxService, mailboxServiceComponents } from '../../src/mailbox/index.js'
import { makeNode } from './helpers.js'

const home = process.argv[2]
if (home == null) throw new Error('usage: mailbox-child <home>')
const node = await makeNode()
const service = new MailboxService(mailboxServiceComponents(node), { home, rateLimit: { burst: 10_000 } })
await service.start()
process.stdout.write(JSON.stringify({ addrs: node.getMultiaddrs().map(String), items: service.stats().items }) + '\n')
