// Helper process for relay.test.ts (not a test itself): does what a failed @libp2p/webrtc dial does —
// creates a peer connection with an 'init' data channel, makes an offer, and closes the peer
// connection before the channel ever opened — through the node's WebRTCLedger, then lets the event
// loop run dry. Prints one JSON line and must then exit on its own: a data channel left holding its
// native callback keeps the process alive (the hang this guards against).
import { RTCPeerConnection } from 'node-datachannel/polyfill'
import { WebRTCLedger } from '../../src/net/nat.js'

const ledger = new WebRTCLedger([])
const pc = new RTCPeerConnection(ledger.rtcConfiguration())
const channel = pc.createDataChannel('init')
await pc.setLocalDescription(await pc.createOffer())
const openBefore = ledger.openPeerConnections
pc.close()
console.log(JSON.stringify({ channel: channel.readyState, openBefore, openAfter: ledger.openPeerConnections }))
