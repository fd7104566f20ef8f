/** The `parley` command table: one spec (for parsing and help) and one handler per command. */
import type { CommandSpec } from './args.js'

const PEER = { name: 'PEER' }

export const COMMANDS: CommandSpec[] = [
  { name: 'init', summary: 'create this home\'s identity (refuses to overwrite one)', args: [], flags: { name: { type: 'string', value: 'NAME', help: 'display name shown to contacts' } } },
  {
    name: 'daemon',
    summary: 'run the node in the foreground; SIGTERM/SIGINT stop it cleanly',
    args: [],
    flags: {
      listen: { type: 'list', value: 'MULTIADDR', help: 'address to listen on' },
      bootstrap: { type: 'list', value: 'MULTIADDR', help: 'peer to connect to at start' },
      'no-mdns': { type: 'boolean', help: 'do not discover peers on the local network' },
      api: { type: 'string', value: '127.0.0.1:PORT', help: 'serve the local API on loopback TCP instead of HOME/api.sock' }
    },
    details: 'When ready it prints one line `parley daemon ready {"peerId":…,"addresses":[…],…}` (with --json: only\nthe JSON object), then its listen addresses.'
  },
  {
    name: 'chat',
    summary: 'interactive terminal chat (uses the running daemon, else starts the node in-process)',
    args: [],
    flags: {
      listen: { type: 'list', value: 'MULTIADDR', help: 'address to listen on (in-process node only)' },
      bootstrap: { type: 'list', value: 'MULTIADDR', help: 'peer to connect to at start (in-process node only)' },
      'no-mdns': { type: 'boolean', help: 'no local-network discovery (in-process node only)' },
      name: { type: 'string', value: 'NAME', help: 'display name if a new identity is created' }
    },
    details: 'Keys: Enter sends, Tab / Shift-Tab switch conversation, Ctrl-C quits.\nCommands: /add INVITE [NAME], /invite, /verify [yes], /accept-key, /switch NAME, /help, /quit.'
  },
  { name: 'status', summary: 'is a daemon running for this home (exit 0 yes, 3 no)', args: [], flags: {} },
  { name: 'id', summary: 'this node\'s PeerId, name and addresses', args: [], flags: {} },
  { name: 'invite', summary: 'an invite for a contact to add you (QR code in the terminal)', args: [], flags: {} },
  { name: 'contact add', summary: 'add a contact from their invite', args: [{ name: 'INVITE' }], flags: { name: { type: 'string', value: 'NAME', help: 'local name for the contact' } } },
  { name: 'contact list', summary: 'contacts with online state, unread counts, verification', args: [], flags: {} },
  { name: 'contact verify', summary: 'mark a contact verified (after comparing safety numbers)', args: [PEER], flags: {} },
  { name: 'contact accept-key', summary: 'accept a contact\'s changed identity key (read the warning)', args: [PEER], flags: {} },
  { name: 'safety-number', summary: 'the safety number to compare with a contact', args: [PEER], flags: {} },
  {
    name: 'send',
    summary: 'send a message',
    args: [PEER, { name: 'TEXT', rest: true }],
    flags: {
      wait: { type: 'boolean', help: 'return once delivered (fails after --timeout, leaving the message queued)' },
      timeout: { type: 'string', value: 'SECONDS', help: 'how long --wait waits (default 60)' }
    },
    details: 'Put `--` before a TEXT that starts with a dash.'
  },
  { name: 'messages', summary: 'the conversation with a contact, oldest first', args: [PEER], flags: { limit: { type: 'string', value: 'N', help: 'only the last N messages' } } },
  { name: 'peers', summary: 'open connections (direct or relayed)', args: [], flags: {} },
  { name: 'demo', summary: 'two local nodes chatting, for someone alone on one machine', args: [], flags: {} },
  { name: 'help', summary: 'help for a command', args: [{ name: 'COMMAND', rest: true, optional: true }], flags: {} }
]

/** Commands that run without a daemon (all others talk to one). */
export const STANDALONE = new Set(['init', 'daemon', 'chat', 'status', 'demo', 'help'])
