// The scenarios, run once per storage: each against the real server
// (built and started by the test) through a proxy that loses answers.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Auth, FieldsyncClient, Outcome, SyncStorage, Visit } from '../src'
import { defaultPlatform } from '../src/platform'
import { Proxy, rng, Server, sha256, signIn } from './harness'

export interface Phone {
  client: FieldsyncClient
  storage: SyncStorage
  sync: () => Promise<void>
  /** The app started again on the same storage (a new client, nothing in memory kept). */
  reopen: (maxAttempts?: number) => Phone
  /** Spoils the stored cursor (so the next pull is a resync) and adds a visit the server never sent. */
  spoil: () => Promise<void>
  /** Storage-specific checks after the 2,000-operation sync (WatermelonDB: they are rows). */
  checkRows?: (ops: number) => Promise<void>
}

export type MakePhone = (deviceId: string, proxyUrl: string, seed: number) => Promise<Phone>

/** The schema version the test server speaks (2 with PROTOCOL.md's retire and seq_taken). */
export const serverSchema = { version: 1 }

export function phoneWith(storage: SyncStorage, deviceId: string, proxyUrl: string, seed: number, maxAttempts = 12) {
  return new FieldsyncClient({ baseUrl: proxyUrl, deviceId, storage, platform: { sha256, random: rng(seed) }, maxAttempts, appVersion: 'test',
    schemaVersion: serverSchema.version })
}

const PW = 'fieldsync-demo'
// An 8x8 JPEG made by Go's image/jpeg.
const JPEG_8X8 =
  '/9j/2wCEABALDA4MChAODQ4SERATGCgaGBYWGDEjJR0oOjM9PDkzODdASFxOQERXRTc4UG1RV19iZ2hnPk1xeXBkeFxlZ2MBERISGBUYLxoaL2NCOEJjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY//AABEIAAgACAMBIgACEQEDEQH/xAGiAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+gEAAwEBAQEBAQEBAQAAAAAAAAECAwQFBgcICQoLEQACAQIEBAMEBwUEBAABAncAAQIDEQQFITEGEkFRB2FxEyIygQgUQpGhscEJIzNS8BVictEKFiQ04SXxFxgZGiYnKCkqNTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqCg4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2dri4+Tl5ufo6ery8/T19vf4+fr/2gAMAwEAAhEDEQA/AOG/4+f+u/8A6M/+y/n9ep9iuv8An2m/79mix/4/7f8A66r/ADFdhWNSo4OyOqjRVVNtn//Z'

export function scenarios(name: string, makePhone: MakePhone) {
  describe(name, () => {
    const server = new Server()
    const proxy = new Proxy(() => server.port)
    let protocol1 = false // the server answers nextSeq at sign-in (PROTOCOL.md 1)
    let protocol2 = false // the server has PROTOCOL.md's retire and seq_taken (schemaVersion 2)

    before(async () => {
      server.build()
      await server.start()
      await proxy.start()
      const r = await fetch(server.url + '/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ login: 'worker8', password: PW, deviceId: 'probe' }) })
      const t = (await r.json()) as { nextSeq?: number; accessToken: string }
      const dev = await fetch(server.url + '/v1/sync/device', { headers: { authorization: 'Bearer ' + t.accessToken } })
      if (dev.status === 200) serverSchema.version = ((await dev.json()) as { schemaVersion: number }).schemaVersion
      protocol1 = typeof t.nextSeq === 'number'
      protocol2 = serverSchema.version >= 2
    })
    after(async () => {
      await proxy.stop()
      await server.stop()
    })

    /** What the server holds for the worker: every visit in the phone's scope, by a fresh snapshot. */
    async function serverVisits(login: string): Promise<Visit[]> {
      const s = await signIn(server.url, login, 'checker-' + login)
      return (await s.get('/v1/sync/pull')).visits
    }

    function noteCounts(visits: Visit[]): Map<string, number> {
      const m = new Map<string, number>()
      for (const v of visits) for (const n of (v.field?.notes ?? []) as { text?: string }[]) if (n.text) m.set(n.text, (m.get(n.text) ?? 0) + 1)
      return m
    }

    async function assertExactlyOnce(login: string, phone: Phone, texts: string[], absent: string[] = []) {
      assert.equal(await phone.storage.pendingCount(), 0, 'queue drained')
      const visits = await serverVisits(login)
      const counts = noteCounts(visits)
      const wrong = texts.filter((t) => counts.get(t) !== 1)
      assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} notes not applied exactly once (e.g. ${wrong[0]}: ${counts.get(wrong[0])})`)
      for (const t of absent) assert.equal(counts.get(t), undefined, `${t} must not be applied`)
      const local = new Map((await phone.storage.visits()).map((v) => [v.id, v]))
      assert.equal(local.size, visits.length, 'the same visits locally')
      for (const v of visits) assert.deepEqual(local.get(v.id), v, `local copy of visit ${v.id} equals the server's`)
    }

    async function online(login: string, deviceId: string, seed: number) {
      proxy.decide = () => 'pass'
      const phone = await makePhone(deviceId, proxy.url, seed)
      await phone.client.login(login, PW)
      await phone.sync()
      const visits = await phone.storage.visits()
      assert.ok(visits.length > 0, 'the demo worker has visits in scope')
      return { phone, visits }
    }

    test('2,000 operations queued offline sync through a proxy losing a tenth of the answers: each applied once, local equals server', async () => {
      const { phone, visits } = await online('worker1', 'phone-w1', 1)
      const states: number[] = []
      phone.client.subscribe((s) => states.push(s.pending))
      proxy.decide = () => 'refuse'
      const texts: string[] = []
      for (let i = 0; i < 2000; i++) {
        texts.push(`w1 note ${i}`)
        await phone.client.queue('note', visits[i % visits.length].id, { text: texts[i] })
      }
      assert.equal(phone.client.state.pending, 2000)
      const r = rng(99)
      let firstLost = false
      proxy.decide = (req) => {
        if (req.url === '/v1/sync/push' && !firstLost) {
          firstLost = true // so a resend answered duplicate is certain to happen
          return 'drop-response'
        }
        return r() < 0.1 ? 'drop-response' : 'pass'
      }
      const pushesBefore = proxy.count('POST /v1/sync/push')
      await phone.sync()
      proxy.decide = () => 'pass'
      assert.ok(proxy.dropped > 0, 'answers were lost')
      assert.ok(proxy.count('POST /v1/sync/push') - pushesBefore >= 5, '2,000 operations take at least 4 pushes of 500 and a resend')
      await assertExactlyOnce('worker1', phone, texts)
      const outcomes = await phone.storage.outcomes()
      assert.equal(outcomes.length, 2000)
      assert.ok(outcomes.some((o) => o.status === 'duplicate'), 'a lost answer was resent and answered duplicate')
      assert.equal(phone.client.state.pending, 0)
      assert.ok(phone.client.state.lastSyncAt, 'last successful sync is shown')
      assert.ok(states.includes(2000) && states.at(-1) === 0)
      await phone.checkRows?.(2000)
    })

    test('the server is killed with SIGKILL mid-sync and restarted: nothing lost or duplicated', async () => {
      const { phone, visits } = await online('worker2', 'phone-w2', 2)
      const texts: string[] = []
      for (let i = 0; i < 1500; i++) {
        texts.push(`w2 note ${i}`)
        await phone.client.queue('note', visits[i % visits.length].id, { text: texts[i] })
      }
      const base = proxy.count('POST /v1/sync/push')
      let killed: Promise<void> | undefined
      proxy.decide = (req, n) => {
        if (req.url === '/v1/sync/push' && n === base + 2 && !killed) {
          killed = (async () => {
            await new Promise((r) => setTimeout(r, 15)) // the batch is on its way into the store
            await server.kill9()
            await new Promise((r) => setTimeout(r, 300))
            await server.start()
          })()
        }
        return 'pass'
      }
      await phone.sync()
      await killed
      assert.ok(killed, 'the server was killed during a push')
      await assertExactlyOnce('worker2', phone, texts)
    })

    async function queueNotes(login: string, p: Phone, texts: string[], n: number) {
      const vs = await serverVisits(login)
      for (let i = 0; i < n; i++) {
        texts.push(`${login} note ${texts.length}`)
        await p.client.queue('note', vs[i % vs.length].id, { text: texts.at(-1)! })
      }
    }

    test('a reinstall with the same device id renumbers from the nextSeq of sign-in and loses nothing', async (t) => {
      if (!protocol1) return t.skip('the server lacks PROTOCOL.md 1 (nextSeq on login): branch p-proto')
      const a = await online('worker3', 'phone-w3', 3)
      const texts: string[] = []
      await queueNotes('worker3', a.phone, texts, 5)
      await a.phone.sync()
      // Reinstalled: an empty store; operations queued before signing in get seqs 1..3.
      const b = await makePhone('phone-w3', proxy.url, 33)
      await queueNotes('worker3', b, texts, 3)
      assert.deepEqual((await b.storage.pending(10)).map((o) => o.seq), [1, 2, 3])
      await b.client.login('worker3', PW)
      assert.deepEqual((await b.storage.pending(10)).map((o) => o.seq), [6, 7, 8], 'renumbered from the nextSeq of sign-in')
      await b.sync()
      await assertExactlyOnce('worker3', b, texts)
      const dev = await (await signIn(server.url, 'worker3', 'phone-w3')).get('/v1/sync/device')
      assert.equal(dev.nextSeq, 9)
    })

    test('a reinstall that does not learn its nextSeq at sign-in is renumbered on seq_taken and loses nothing', async (t) => {
      if (!protocol2) return t.skip('the server lacks PROTOCOL.md 2 (seq_taken, schemaVersion 2): branch p-proto')
      const a = await online('worker8', 'phone-w8', 8)
      const texts: string[] = []
      await queueNotes('worker8', a.phone, texts, 4)
      await a.phone.sync()
      // Reinstalled, and the sign-in answer does not say nextSeq (an older
      // server, a lost field): the push answers seq_taken and the client
      // renumbers from the push answer's nextSeq.
      const c = await makePhone('phone-w8', proxy.url, 88)
      proxy.rewrite = (req, body) => {
        if (req.url !== '/v1/auth/login') return body
        const j = JSON.parse(body.toString())
        delete j.nextSeq
        return Buffer.from(JSON.stringify(j))
      }
      await c.client.login('worker8', PW)
      proxy.rewrite = undefined
      await queueNotes('worker8', c, texts, 6)
      assert.deepEqual((await c.storage.pending(10)).map((o) => o.seq), [1, 2, 3, 4, 5, 6])
      await c.sync()
      await assertExactlyOnce('worker8', c, texts)
      const dev = await (await signIn(server.url, 'worker8', 'phone-w8')).get('/v1/sync/device')
      assert.equal(dev.nextSeq, 11)
    })

    test('a discarded draft becomes a retire, a hole is retired, a rejection is surfaced with its code', async (t) => {
      if (!protocol2) return t.skip('the server lacks PROTOCOL.md 3 (retire): branch p-proto')
      const { phone, visits } = await online('worker4', 'phone-w4', 4)
      const rejected: Outcome[] = []
      phone.client.onRejected((o) => rejected.push(o))
      const q = (text: string) => phone.client.queue('note', visits[0].id, { text })
      await q('w4 kept 1')
      const draft = await q('w4 draft')
      await q('w4 kept 2')
      assert.equal(await phone.client.discard(draft.opId), true)
      assert.deepEqual((await phone.storage.pending(10)).map((o) => [o.seq, o.kind]), [[1, 'note'], [2, 'retire'], [3, 'note']])
      await phone.sync()
      // One sent whose answer was lost may be applied already: not a draft any more.
      proxy.decide = (req) => (req.url === '/v1/sync/push' ? 'drop-response' : 'pass')
      const sent = await q('w4 sent')
      await assert.rejects(phone.reopen(1).client.push())
      proxy.decide = () => 'pass'
      assert.equal(await phone.client.discard(sent.opId), false, 'a sent operation cannot be discarded')
      // A hole the queue does not know how it got (an op lost from storage).
      const lost = await q('w4 lost')
      await q('w4 kept 3')
      await phone.storage.settle([{ seq: lost.seq, opId: lost.opId, kind: 'note', status: 'applied', settledAt: new Date().toISOString() }])
      const bad = await phone.client.queue('checkOut', visits[0].id, { location: { lat: 200, lng: 0, accuracyM: 5 } })
      await phone.sync()
      await assertExactlyOnce('worker4', phone, ['w4 kept 1', 'w4 kept 2', 'w4 sent', 'w4 kept 3'], ['w4 draft', 'w4 lost'])
      const outs = await phone.storage.outcomes()
      assert.equal(outs.find((o) => o.seq === 2 && o.kind === 'retire')?.status, 'applied')
      assert.equal(outs.find((o) => o.seq === 5 && o.kind === 'retire')?.status, 'applied', 'the hole was retired')
      assert.equal(rejected.length, 1)
      assert.equal(rejected[0].opId, bad.opId)
      assert.equal(rejected[0].code, 'invalid')
    })

    test('refreshes racing: one in flight for every caller, two processes sharing a token stay signed in', async () => {
      const { phone } = await online('worker5', 'phone-w5', 5)
      const expire = async () => {
        const t = JSON.parse((await phone.storage.getMeta('fieldsync.auth'))!)
        t.accessToken = 'expired'
        await phone.storage.setMeta('fieldsync.auth', JSON.stringify(t))
      }
      await expire()
      phone.client.auth.forgetCache()
      let before = proxy.count('POST /v1/auth/refresh')
      const rs = await Promise.all(Array.from({ length: 10 }, () => phone.client.auth.request('GET', '/v1/me')))
      assert.ok(rs.every((r) => r.status === 200))
      assert.equal(proxy.count('POST /v1/auth/refresh') - before, 1, 'ten callers, one refresh')
      // Two processes of the app (the UI and a background task) on one store, both with the old token.
      const other = new Auth(defaultPlatform({ random: rng(55) }), proxy.url, 'phone-w5', phone.storage)
      await expire()
      phone.client.auth.forgetCache()
      before = proxy.count('POST /v1/auth/refresh')
      const [x, y] = await Promise.all([phone.client.auth.request('GET', '/v1/me'), other.request('GET', '/v1/me')])
      assert.equal(x.status, 200)
      assert.equal(y.status, 200)
      assert.equal(proxy.count('POST /v1/auth/refresh') - before, 2, 'each presented the same refresh token')
      // The answer to a refresh is lost: the retry presents the same token within the grace.
      await expire()
      phone.client.auth.forgetCache()
      const n0 = proxy.count('POST /v1/auth/refresh')
      proxy.decide = (req, n) => (req.url === '/v1/auth/refresh' && n === n0 + 1 ? 'drop-response' : 'pass')
      assert.equal((await phone.client.auth.request('GET', '/v1/me')).status, 200)
      proxy.decide = () => 'pass'
      assert.equal((await other.request('GET', '/v1/me')).status, 200, 'the other process is still signed in')
      await phone.sync()
    })

    test('a 3 MB photo upload cut off twice resumes from the server offset and completes', async () => {
      const { phone, visits } = await online('worker6', 'phone-w6', 6)
      // A real (small) JPEG and 3 MB of trailer after its end, as phones append (motion photos).
      const photo = new Uint8Array(3 * 1024 * 1024)
      const r = rng(6)
      for (let i = 0; i < photo.length; i++) photo[i] = 0x30 + Math.floor(r() * 64)
      photo.set(Buffer.from(JPEG_8X8, 'base64'), 0)
      const sha = await phone.client.hashAttachment(photo)
      // The operation names the photo before its upload.
      await phone.client.queue('note', visits[0].id, { text: 'w6 photo', photos: [sha] })
      await phone.sync()
      const patch = `PATCH /v1/attachments/${sha}/upload`
      const base = proxy.count(patch)
      proxy.decide = (req, n) => {
        if (req.method !== 'PATCH') return 'pass'
        if (n === base + 2) return 'cut-request' // the connection drops while the chunk is sent
        if (n === base + 4) return 'drop-response' // the chunk is stored, the phone never hears
        return 'pass'
      }
      assert.equal(await phone.client.uploadAttachment(photo, 'image/jpeg', sha), sha)
      proxy.decide = () => 'pass'
      assert.equal(proxy.count(patch) - base, 7, 'six chunks of 512 KiB and the one cut off sent again')
      assert.ok(proxy.count(`HEAD /v1/attachments/${sha}/upload`) >= 2, 'asked the offset after each interruption')
      const s = await signIn(server.url, 'worker6', 'checker-w6')
      const res = await fetch(`${server.url}/v1/attachments/${sha}`, { headers: { authorization: 'Bearer ' + s.token } })
      assert.equal(res.status, 200)
      const got = new Uint8Array(await res.arrayBuffer())
      assert.equal(Buffer.from(await sha256(got)).toString('hex'), sha)
      await assertExactlyOnce('worker6', phone, ['w6 photo'])
    })

    test('the app is killed while its push is on the way: started again on the same storage, nothing lost or duplicated', async () => {
      const { phone, visits } = await online('worker6', 'phone-w6k', 61)
      const texts: string[] = []
      for (let i = 0; i < 300; i++) {
        texts.push(`w6k note ${i}`)
        await phone.client.queue('note', visits[i % visits.length].id, { text: texts[i] })
      }
      const killedApp = phone.reopen(1)
      proxy.decide = (req) => (req.url === '/v1/sync/push' ? 'drop-response' : 'pass')
      await assert.rejects(killedApp.client.push()) // the server applied it; the app is gone before the answer
      proxy.decide = () => 'pass'
      const again = phone.reopen()
      assert.equal(await again.client.init().then((s) => s.pending), 300, 'the queue survived')
      await again.sync()
      await assertExactlyOnce('worker6', again, texts)
      assert.ok((await again.storage.outcomes()).some((o) => o.status === 'duplicate'))
    })

    test('a cancelled visit is removed locally; a resync replaces the local copy and keeps the queue', async () => {
      const { phone, visits } = await online('worker7', 'phone-w7r', 71)
      const admin = await signIn(server.url, 'demo.admin', 'office-pc')
      const gone = visits[visits.length - 1]
      await admin.post(`/v1/visits/${gone.id}/cancel`, { reason: 'customer away' })
      await phone.sync()
      assert.equal((await phone.storage.visits()).find((v) => v.id === gone.id), undefined, 'the removal deleted it')
      proxy.decide = () => 'refuse'
      const texts = ['w7 offline 1', 'w7 offline 2', 'w7 offline 3']
      for (const t of texts) await phone.client.queue('note', visits[0].id, { text: t })
      await phone.spoil()
      assert.ok((await phone.storage.visits()).some((v) => v.id === 'ghost'))
      proxy.decide = () => 'pass'
      const pulls = proxy.count('GET /v1/sync/pull')
      await phone.sync()
      assert.ok(proxy.count('GET /v1/sync/pull') > pulls)
      assert.equal((await phone.storage.visits()).find((v) => v.id === 'ghost'), undefined, 'the resync replaced the local copy')
      await assertExactlyOnce('worker7', phone, texts)
    })

    test('the FCM "pull" data message starts a sync; being offline shows the error and its code', async () => {
      const { phone } = await online('worker7', 'phone-w7', 7)
      proxy.decide = () => 'refuse'
      const c2 = phoneWith(phone.storage, 'phone-w7', proxy.url, 70, 2)
      await assert.rejects(c2.sync())
      assert.equal(c2.state.lastError?.code, 'network')
      proxy.decide = () => 'pass'
      const pulls = proxy.count('GET /v1/sync/pull')
      assert.equal(phone.client.onDataMessage({ kind: 'reminder' }), false)
      assert.equal(phone.client.onDataMessage({ kind: 'pull', visitId: 'x' }), true)
      await phone.client.sync()
      assert.ok(proxy.count('GET /v1/sync/pull') > pulls)
      assert.equal(phone.client.state.lastError, undefined)
    })
  })
}
