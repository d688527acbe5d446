// The client's retry rules, where a real server cannot be made to answer
// on cue: a scripted fetch stands in for the network only.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { backoffMs, FieldsyncClient, MemoryStorage } from '../src'
import type { FetchInit } from '../src'
import { rng } from './harness'

test('backoff has full jitter, doubles to a cap, and never undercuts Retry-After', () => {
  const r = rng(1)
  for (let a = 0; a < 20; a++) {
    const ms = backoffMs(a, r)
    assert.ok(ms >= 0 && ms <= Math.min(30_000, 250 * 2 ** a))
    assert.ok(backoffMs(a, r, 7000) >= 7000)
  }
  const spread = new Set(Array.from({ length: 50 }, () => backoffMs(6, r)))
  assert.ok(spread.size > 40, 'jittered, not a fixed delay')
})

test('a push honours Retry-After and learns the batch limit from 413', async () => {
  const slept: number[] = []
  const batches: number[] = []
  let calls = 0
  const fetch = async (url: string, init: FetchInit) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
      status, headers: { get: (h: string) => headers[h.toLowerCase()] ?? null }, text: async () => JSON.stringify(body) })
    if (url.endsWith('/v1/auth/login')) return reply(200, { accessToken: 'a', refreshToken: 'r', expiresIn: 900, tokenType: 'Bearer', nextSeq: 1 })
    const b = JSON.parse(init.body as string)
    calls++
    if (calls === 1) return reply(429, { error: { code: 'rate_limited', message: 'slow down' } }, { 'retry-after': '3' })
    if (b.ops.length > 2) return reply(413, { error: { code: 'too_large', message: 'too many', details: { maxOps: 2 } } })
    batches.push(b.ops.length)
    const results = b.ops.map((o: { seq: number; opId: string }) => ({ seq: o.seq, opId: o.opId, status: 'applied' }))
    return reply(200, { results, nextSeq: b.ops.at(-1).seq + 1, writeCheckpoint: '', serverTime: new Date().toISOString(), skewMs: 0 })
  }
  const c = new FieldsyncClient({ baseUrl: 'http://x', deviceId: 'd', storage: new MemoryStorage(),
    platform: { fetch, sleep: async (ms) => void slept.push(ms), random: rng(2) } })
  await c.login('w', 'p')
  for (let i = 0; i < 5; i++) await c.queue('note', 'v', { text: String(i) })
  await c.push()
  assert.ok(slept[0] >= 3000, `waited ${slept[0]} ms after Retry-After: 3`)
  assert.deepEqual(batches, [2, 2, 1])
  assert.equal(c.state.pending, 0)
})
