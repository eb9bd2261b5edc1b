'use strict'
// A Bluesky network for the test suite, from the reference AT Protocol software
// (@atproto/dev-env's TestPlc, TestPds and TestBsky, wired as its TestNetwork wires them, less
// the moderation service): a PLC directory in memory, a PDS (dev mode, no invites, handles
// under .test, no crawlers) and an AppView on the PostgreSQL at DB_POSTGRES_URL, indexing
// the PDS's firehose. Every server listens on 127.0.0.1 only.
//
// Prints one line of JSON when ready: {"plc", "pds", "appview", "control"} (URLs). The
// control server answers GET /sync once the AppView has indexed every event the PDS has
// sequenced (so a test reads what it wrote without polling). SIGTERM or SIGINT stops it all.

// The test suite's other-date runs shift the wall clock of every Python process by
// CARECAST_TEST_TIME_SHIFT seconds (tests/other_dates/sitecustomize.py); the network's clock
// moves with them, or a token it signs, a record's indexedAt and a listNotifications page would
// be dated a year before the client that reads them. Set before any @atproto module loads.
const shiftMs = Math.round(Number(process.env.CARECAST_TEST_TIME_SHIFT || 0) * 1000)
if (shiftMs) {
  const RealDate = Date
  const now = () => RealDate.now() + shiftMs
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args, newTarget) =>
      Reflect.construct(target, args.length ? args : [now()], newTarget),
    apply: () => new RealDate(now()).toString(),
    get: (target, prop, receiver) => (prop === 'now' ? now : Reflect.get(target, prop, receiver)),
  })
}

const dns = require('node:dns')
const http = require('node:http')
const net = require('node:net')

dns.setDefaultResultOrder('ipv4first') // "localhost" in the services' URLs is 127.0.0.1

// Bind every server to loopback: the dev-env servers call listen(port) with no host.
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    if (typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1')
  } else if (args[0] && typeof args[0] === 'object' && !args[0].path && !args[0].host) {
    args[0] = { ...args[0], host: '127.0.0.1' }
  }
  return listen.apply(this, args)
}

// Index the firehose in the order the PDS sequenced it. The AppView's runner queues each event
// by its author's DID, one queue per DID running side by side, so a reply could be indexed
// before the post it answers when both arrive in one sync; the AppView then finds no parent and
// notifies nobody (the post's author never sees the reply). A live network has the parent
// indexed long before anyone answers it; one queue for all gives a test that order.
const { MemoryRunner } = require('@atproto/sync')
const addTask = MemoryRunner.prototype.addTask
MemoryRunner.prototype.addTask = function (_partitionId, task) {
  return addTask.call(this, 'firehose', task)
}

const { TestPlc, TestPds, TestBsky, mockNetworkUtilities } = require('@atproto/dev-env')

async function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

async function indexed(pds, bsky, timeoutMs) {
  const started = Date.now()
  await pds.processAll()
  const last = await pds.ctx.sequencer.curr()
  if (!last) return
  while (Date.now() - started < timeoutMs) {
    await bsky.sub.processAll()
    const cursor = await bsky.sub.runner.getCursor()
    if (cursor && cursor >= last) {
      // The last event may have finished between processAll and getCursor: its background
      // writes (counts, handles) are drained before the answer.
      await bsky.sub.processAll()
      return
    }
    await new Promise((r) => setTimeout(r, 10))
  }
  throw new Error(`the AppView did not index event ${last} within ${timeoutMs} ms`)
}

async function main() {
  const dbPostgresUrl = process.env.DB_POSTGRES_URL
  if (!dbPostgresUrl) throw new Error('set DB_POSTGRES_URL to a PostgreSQL database URL')
  const schema = process.env.DB_POSTGRES_SCHEMA || 'appview'

  const plc = await TestPlc.create({ port: await freePort() })
  const pdsPort = await freePort()
  const bsky = await TestBsky.create({
    port: await freePort(),
    plcUrl: plc.url,
    pdsPort,
    repoProvider: `ws://localhost:${pdsPort}`,
    dbPostgresUrl,
    dbPostgresSchema: schema,
  })
  const pds = await TestPds.create({
    port: pdsPort,
    didPlcUrl: plc.url,
    bskyAppViewUrl: bsky.url,
    bskyAppViewDid: bsky.ctx.cfg.serverDid,
    inviteRequired: false,
    crawlers: [],
  })
  mockNetworkUtilities(pds, bsky)

  const control = http.createServer((req, res) => {
    if (req.url !== '/sync') {
      res.writeHead(404).end()
      return
    }
    indexed(pds, bsky, 20000).then(
      () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'),
      (err) => res.writeHead(504, { 'content-type': 'text/plain' }).end(String(err)),
    )
  })
  await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve))

  let closing = false
  const close = async () => {
    if (closing) return
    closing = true
    control.close()
    await bsky.close().catch(() => {})
    await pds.close().catch(() => {})
    await plc.close().catch(() => {})
    process.exit(0)
  }
  process.on('SIGTERM', close)
  process.on('SIGINT', close)
  process.stdin.on('end', close) // the test process went away
  process.stdin.resume()

  process.stdout.write(JSON.stringify({
    plc: plc.url,
    pds: pds.url,
    appview: bsky.url,
    control: `http://127.0.0.1:${control.address().port}`,
  }) + '\n')
}

main().catch((err) => {
  process.stderr.write(`network: ${err && err.stack ? err.stack : err}\n`)
  process.exit(1)
})
