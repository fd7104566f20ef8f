/** The `parley` command table: one spec (for parsing and help) and one handler per command. */
import type { CommandSpec } from './args.js'

const PEER = { name: 'PEER' }
/** A group id (hex) or a group name that is unique among your groups. */
const GROUP = { name: 'GROUP' }

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
      api: { type: 'string', value: '127.0.0.1:PORT', help: 'serve the local API on loopback TCP instead of HOME/api.sock' },
      // issue 4
      relay: { type: 'list', value: 'MULTIADDR', help: 'relay to reserve on and use as mailbox (ends in /p2p/<id>); kept for later starts' },
      'no-relay': { type: 'boolean', help: 'forget the stored relays' },
      'host-mail': { type: 'boolean', help: 'host a mailbox for your contacts (ciphertext only, quota per contact); kept for later starts' },
      'no-host-mail': { type: 'boolean', help: 'stop hosting a mailbox for your contacts' },
      'contact-mailboxes': { type: 'boolean', help: 'use contacts that host mailboxes as your mailboxes; kept for later starts' },
      'no-contact-mailboxes': { type: 'boolean', help: 'stop using contacts as mailboxes' }
    },
    details: 'When ready it prints one line `parley daemon ready {"peerId":…,"addresses":[…],…}` (with --json: only\nthe JSON object), then its listen addresses.\n--relay, --host-mail and --contact-mailboxes are stored in HOME/settings.json: later starts without\nthem keep the stored choice (--no-… changes it).'
  },
  // -- relay (issue 4) --
  {
    name: 'relay',
    summary: 'run a relay node for a public host: circuit relay, STUN, DHT server, mailbox, WebSocket',
    args: [],
    flags: {
      listen: { type: 'list', value: 'MULTIADDR', help: 'address to listen on (default /ip4/0.0.0.0/tcp/4001 and /ip4/0.0.0.0/tcp/4002/ws)' },
      announce: { type: 'list', value: 'MULTIADDR', help: 'public address to advertise instead of the listen addresses' },
      bootstrap: { type: 'list', value: 'MULTIADDR', help: 'another relay / DHT peer to connect to (ends in /p2p/<id>)' },
      config: { type: 'string', value: 'FILE', help: 'JSON config file (flags win over it; see docs)' },
      'stun-port': { type: 'string', value: 'PORT', help: 'UDP port of the STUN responder (default 3478; 0: any free port)' },
      'no-stun': { type: 'boolean', help: 'no STUN responder' },
      'max-reservations': { type: 'string', value: 'N', help: 'concurrent relay reservations (default 128)' },
      'relay-duration': { type: 'string', value: 'SECONDS', help: 'limit per relayed connection (default 3600)' },
      'relay-data': { type: 'string', value: 'MIB', help: 'data limit per relayed connection (default 64)' },
      'no-mailbox': { type: 'boolean', help: 'do not store messages for offline users' },
      'mailbox-quota': { type: 'string', value: 'MIB', help: 'mailbox quota per recipient (default 16)' },
      'mailbox-items': { type: 'string', value: 'N', help: 'mailbox items per recipient (default 2000)' },
      'mailbox-total': { type: 'string', value: 'MIB', help: 'whole mailbox size cap (default 1024)' },
      'mailbox-retention': { type: 'string', value: 'DAYS', help: 'how long undelivered items are kept (default 30)' },
      'max-connections': { type: 'string', value: 'N', help: 'connection cap (default 1024)' },
      'metrics-interval': { type: 'string', value: 'SECONDS', help: 'print a metrics line this often (default 60; 0: only on SIGUSR1)' },
      api: { type: 'string', value: '127.0.0.1:PORT', help: 'serve the local API on loopback TCP instead of HOME/api.sock' }
    },
    details: 'Creates its own identity in HOME on first start (no `parley init` needed); `parley --home HOME id` and\n`parley --home HOME status --json` (metrics) work while it runs. When ready it prints one line\n`parley relay ready {"peerId":…,"addresses":[…],…}` (with --json: only the JSON object), then its listen\naddresses. Logs go to stderr; SIGUSR1 prints a metrics line; SIGTERM/SIGINT stop it cleanly.'
  },
  // -- end relay --
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
    details: 'Keys: Enter sends, Tab / Shift-Tab switch conversation, Ctrl-C quits.\nCommands: /add INVITE [NAME], /invite, /verify [yes], /accept-key, /switch NAME, /help, /quit;\ngroups: /group create NAME [PEER…], /group add|remove PEER, /group leave, /group members.'
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
  // -- groups (issue 5) --
  {
    name: 'group create',
    summary: 'create a group chat (you are its creator and only admin)',
    args: [{ name: 'NAME' }],
    flags: { member: { type: 'list', value: 'PEER', help: 'a first member (PeerId or contact name)' } },
    details: 'Prints the new group (with --json: GroupInfo, including `groupId`). Members need not know each other.'
  },
  { name: 'group list', summary: 'your groups with members, your role and unread counts', args: [], flags: {} },
  { name: 'group add', summary: 'add a member (creator and admins only)', args: [GROUP, PEER], flags: {} },
  { name: 'group remove', summary: 'remove a member (creator and admins only); everyone\'s sender key rotates', args: [GROUP, PEER], flags: {} },
  { name: 'group leave', summary: 'leave a group (its history stays readable)', args: [GROUP], flags: {} },
  { name: 'group send', summary: 'send a message to a group', args: [GROUP, { name: 'TEXT', rest: true }], flags: {}, details: 'Put `--` before a TEXT that starts with a dash.' },
  { name: 'group messages', summary: 'a group\'s conversation, oldest first (the same order for every member)', args: [GROUP], flags: { limit: { type: 'string', value: 'N', help: 'only the last N messages' } } },
  // -- end groups --
  { name: 'demo', summary: 'two local nodes chatting, for someone alone on one machine', args: [], flags: {} },
  { name: 'help', summary: 'help for a command', args: [{ name: 'COMMAND', rest: true, optional: true }], flags: {} }
]

/** Commands that run without a daemon (all others talk to one). */
export const STANDALONE = new Set(['init', 'daemon', 'chat', 'status', 'demo', 'help', 'relay'])
