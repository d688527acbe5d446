import { Auth } from './auth'
import { FieldsyncError, backoffMs } from './errors'
import { defaultPlatform, hex, Platform } from './platform'
import type { Outcome, QueuedOp, SyncStorage } from './storage'
import { OpKind, PayloadOf, PullResponse, PushRequest, PushResponse, SCHEMA_VERSION, WireOp } from './types'

export interface ClientOptions {
  baseUrl: string
  deviceId: string
  storage: SyncStorage
  platform?: Partial<Platform>
  appVersion?: string
  /** Operations per push until the server says its limit (413 with maxOps). */
  maxOps?: number
  /** Tries of one request that finds no server (or 429, 5xx) before sync gives up for now. */
  maxAttempts?: number
  /** Bytes per upload PATCH (the server takes 16 KiB to 1 MiB). */
  chunkSize?: number
  schemaVersion?: number
}

/** What the UI shows. */
export interface SyncState {
  pending: number
  syncing: boolean
  lastSyncAt?: string
  lastError?: { code: string; status: number; message: string; at: string }
}

export type Listener = (s: SyncState) => void

const LAST_SYNC = 'fieldsync.lastSyncAt'
// The highest seq ever sent: an operation at or below it may be applied already, so it is not a draft to discard.
const SENT_UP_TO = 'fieldsync.sentUpTo'

/**
 * The phone's half of fieldsync's offline sync: a durable queue of named
 * operations pushed exactly once, a local copy pulled by cursor, the
 * session, and resumable uploads.
 */
export class FieldsyncClient {
  readonly auth: Auth
  readonly storage: SyncStorage
  readonly deviceId: string
  private readonly p: Platform
  private readonly baseUrl: string
  private maxOps: number
  private readonly maxAttempts: number
  private readonly chunkSize: number
  private readonly schemaVersion: number
  private readonly appVersion?: string
  private lock: Promise<unknown> = Promise.resolve()
  private inflight = new Set<number>()
  private running?: Promise<void>
  private runner?: () => Promise<void>
  private again = false
  private listeners = new Set<Listener>()
  private rejectedListeners = new Set<(o: Outcome) => void>()
  state: SyncState = { pending: 0, syncing: false }

  constructor(o: ClientOptions) {
    this.p = defaultPlatform(o.platform)
    this.baseUrl = o.baseUrl.replace(/\/$/, '')
    this.deviceId = o.deviceId
    this.storage = o.storage
    this.maxOps = o.maxOps ?? 500
    this.maxAttempts = o.maxAttempts ?? 8
    this.chunkSize = o.chunkSize ?? 512 * 1024
    this.schemaVersion = o.schemaVersion ?? SCHEMA_VERSION
    this.appVersion = o.appVersion
    this.auth = new Auth(this.p, this.baseUrl, o.deviceId, o.storage)
    this.auth.onSignedOut = (e) => this.fail(e)
  }

  /** Reads what the UI shows from storage (after a restart). */
  async init(): Promise<SyncState> {
    this.state = { ...this.state, pending: await this.storage.pendingCount(), lastSyncAt: await this.storage.getMeta(LAST_SYNC) }
    this.emit()
    return this.state
  }

  subscribe(fn: Listener): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  /** Called with each operation the server refused for good (status rejected), with its code. */
  onRejected(fn: (o: Outcome) => void): () => void {
    this.rejectedListeners.add(fn)
    return () => this.rejectedListeners.delete(fn)
  }

  /**
   * Signs in on this device. The answer's nextSeq is where this device's
   * numbering stands on the server: after a reinstall (same deviceId, an
   * empty or older queue) the queue is renumbered from it, so no
   * operation is sent under a seq already taken.
   */
  async login(login: string, password: string): Promise<void> {
    const { nextSeq } = await this.auth.login(login, password)
    if (nextSeq !== undefined) await this.adoptNextSeq(nextSeq)
    await this.refreshPending()
  }

  private adoptNextSeq(serverNext: number): Promise<void> {
    return this.locked(async () => {
      if (serverNext <= (await this.storage.nextSeq())) return
      const [first] = await this.storage.pending(1)
      if (first) await this.storage.renumber(first.seq, serverNext)
      else await this.storage.raiseNextSeq(serverNext)
    })
  }

  /** Queues an operation; its seq is assigned and stored now. Works offline. */
  async queue<K extends Exclude<OpKind, 'retire'>>(kind: K, visitId: string, payload: PayloadOf<K>, at?: Date): Promise<QueuedOp> {
    const op = await this.locked(() =>
      this.storage.enqueue({ opId: this.p.randomId(), kind, visitId, at: (at ?? this.p.now()).toISOString(), payload: payload as Record<string, unknown> }))
    await this.refreshPending()
    return op
  }

  /**
   * Discards a queued draft that was not sent: it becomes a retire at the
   * same seq (a new opId), so the device's sequence has no hole. False when
   * it is not queued any more or was ever sent (the server may have it).
   */
  async discard(opId: string): Promise<boolean> {
    return this.locked(async () => {
      const all = await this.storage.pending(Number.MAX_SAFE_INTEGER)
      const q = all.find((o) => o.opId === opId)
      // Once sent, the server may have applied it even if no answer came back.
      const sentUpTo = Number((await this.storage.getMeta(SENT_UP_TO)) ?? 0)
      if (!q || this.inflight.has(q.seq) || q.seq <= sentUpTo || q.kind === 'retire') return false
      await this.storage.put(this.retire(q.seq))
      return true
    })
  }

  /** Handles an FCM data message; a "pull" one starts a sync. True when it was ours. */
  onDataMessage(data: Record<string, string | undefined>): boolean {
    if (data.kind !== 'pull') return false
    ;(this.runner ?? (() => this.sync()))().catch((e) => this.fail(e)) // shown in state.lastError
    return true
  }

  /** What onDataMessage runs: the app's synchronize() with WatermelonDB; sync() by default. */
  useSyncRunner(run: () => Promise<void>): void {
    this.runner = run
  }

  /**
   * Pushes the whole queue, then pulls until nothing is left. One sync runs
   * at a time: a call during one makes it run once more and shares its end.
   */
  sync(): Promise<void> {
    if (this.running) {
      this.again = true
      return this.running
    }
    this.running = (async () => {
      this.setState({ syncing: true })
      try {
        do {
          this.again = false
          await this.push()
          await this.pull()
        } while (this.again)
        await this.succeeded()
      } catch (e) {
        this.fail(e)
        throw e
      } finally {
        this.running = undefined
        this.setState({ syncing: false })
      }
    })()
    return this.running
  }

  /** Records a successful sync (shown as lastSyncAt); the WatermelonDB adapter calls it at the end of synchronize(). */
  async succeeded(): Promise<void> {
    const at = this.p.now().toISOString()
    await this.storage.setMeta(LAST_SYNC, at)
    this.setState({ lastSyncAt: at, lastError: undefined })
  }

  /** Records a failed sync (shown as lastError with its code). */
  failed(e: unknown): void {
    this.fail(e)
  }

  /** Sends every queued operation, in batches up to the server's limit. */
  async push(): Promise<void> {
    let idle = 0
    for (;;) {
      const batch = await this.storage.pending(this.maxOps)
      if (batch.length === 0) return
      const body: PushRequest = {
        deviceId: this.deviceId,
        schemaVersion: this.schemaVersion,
        appVersion: this.appVersion,
        deviceClock: this.p.now().toISOString(),
        ops: batch.map(wire) as unknown as PushRequest['ops'],
      }
      let resp: PushResponse
      await this.locked(async () => {
        for (const q of batch) this.inflight.add(q.seq)
        const top = batch[batch.length - 1].seq
        if (top > Number((await this.storage.getMeta(SENT_UP_TO)) ?? 0)) await this.storage.setMeta(SENT_UP_TO, String(top))
      })
      try {
        resp = await this.withRetry(async () => JSON.parse((await this.auth.request('POST', '/v1/sync/push', body)).body))
      } catch (e) {
        const max = e instanceof FieldsyncError && e.status === 413 ? Number(e.details.maxOps) : NaN
        if (max > 0 && max < batch.length) {
          this.maxOps = max
          continue
        }
        throw e
      } finally {
        this.inflight.clear()
      }
      const { settled, fixed } = await this.locked(() => this.record(batch, resp))
      await this.refreshPending()
      if (settled > 0) idle = 0
      // Nothing settled: after a renumber or a retired hole send again at
      // once; otherwise (a time budget) wait a little. A few rounds without
      // one settled operation stop the push and say so rather than spin.
      else if (++idle >= 5) throw new FieldsyncError(0, 'no_progress', `the server skipped every operation from seq ${batch[0].seq} (${resp.results[0]?.code ?? 'no result'})`)
      else if (!fixed) await this.p.sleep(backoffMs(idle, this.p.random))
    }
  }

  /** Applies one push answer to the queue: how many operations settled, and whether seqs were renumbered or retired. */
  private async record(batch: QueuedOp[], resp: PushResponse): Promise<{ settled: number; fixed: boolean }> {
    const sent = new Map(batch.map((q) => [q.seq, q]))
    const now = this.p.now().toISOString()
    const settled: Outcome[] = []
    let taken: number | undefined
    for (const r of resp.results) {
      const q = sent.get(r.seq)
      if (!q || q.opId !== r.opId) continue
      if (r.status === 'skipped') {
        // gap, after_gap, time_budget: sent again; seq_taken: renumbered below.
        if (r.code === 'seq_taken' && taken === undefined) taken = r.seq
        continue
      }
      settled.push({ seq: q.seq, opId: q.opId, kind: q.kind, visitId: q.visitId, status: r.status as Outcome['status'],
        code: r.code, rule: r.rule, rules: r.rules, message: r.message, settledAt: now })
    }
    await this.storage.settle(settled)
    for (const o of settled) if (o.status === 'rejected') for (const fn of this.rejectedListeners) fn(o)
    let fixed = false
    if (taken !== undefined) {
      // The seq was another operation's (a reinstall): every unsent
      // operation from there on gets new seqs from the server's nextSeq.
      await this.storage.renumber(taken, resp.nextSeq)
      fixed = true
    }
    if (resp.gap) {
      // The server expects a seq this queue no longer holds (a draft dropped
      // without a retire, a restored server): retire the hole.
      const [lowest] = await this.storage.pending(1)
      const end = lowest ? lowest.seq : resp.gap.got
      for (let s = resp.gap.expected; s < end; s++) await this.storage.put(this.retire(s))
      if (resp.gap.expected < end) fixed = true
    }
    return { settled: settled.length, fixed }
  }

  /** Pulls until hasMore is false; each page's cursor is stored only once its changes are applied. */
  async pull(): Promise<void> {
    for (;;) {
      const page = await this.pullPage(await this.storage.cursor())
      await this.storage.applyPull({
        resync: page.resync === true,
        visits: page.visits,
        incidents: page.incidents,
        serviceTypes: page.serviceTypes,
        removedVisitIds: page.removed.map((r) => r.visitId),
        cursor: page.cursor,
      })
      if (!page.hasMore) return
    }
  }

  /** One page of changes after the cursor (none: a full snapshot), with retries; applies nothing. */
  pullPage(cursor?: string): Promise<PullResponse> {
    const q = cursor ? '?cursor=' + encodeURIComponent(cursor) : ''
    return this.withRetry(async () => JSON.parse((await this.auth.request('GET', '/v1/sync/pull' + q)).body))
  }

  /** SHA-256 of the content, hex: what an operation names before (or while) the upload runs. */
  async hashAttachment(bytes: Uint8Array): Promise<string> {
    return hex(await this.p.sha256(bytes))
  }

  /**
   * Uploads content by its hash, in chunks; after a dropped connection it
   * asks the server's offset and resumes there. Answers the hash.
   */
  async uploadAttachment(bytes: Uint8Array, contentType: string, sha256?: string): Promise<string> {
    const sha = sha256 ?? (await this.hashAttachment(bytes))
    const size = bytes.length
    let offset: number | undefined
    for (let attempt = 0; ; ) {
      try {
        if (offset === undefined) {
          const a = JSON.parse((await this.auth.request('POST', '/v1/attachments', { sha256: sha, size, contentType })).body)
          if (a.complete) return sha
          offset = Number(a.offset)
        }
        while (offset < size) {
          const end = Math.min(size, offset + this.chunkSize)
          await this.auth.request('PATCH', `/v1/attachments/${sha}/upload`, bytes.subarray(offset, end),
            { 'content-type': 'application/offset+octet-stream', 'upload-offset': String(offset), 'tus-resumable': '1.0.0' })
          offset = end
          attempt = 0
        }
        return sha
      } catch (e) {
        if (!(e instanceof FieldsyncError)) throw e
        if (e.status === 409 && typeof e.details.offset === 'number') {
          offset = e.details.offset
          continue
        }
        if (e.status === 404) {
          offset = undefined // the unfinished upload expired: announce it again
          continue
        }
        if (!e.retryable || ++attempt > this.maxAttempts) throw e
        await this.p.sleep(backoffMs(attempt, this.p.random, e.retryAfterMs))
        offset = await this.uploadOffset(sha)
      }
    }
  }

  private async uploadOffset(sha: string): Promise<number | undefined> {
    try {
      const r = await this.auth.request('HEAD', `/v1/attachments/${sha}/upload`, undefined, { 'tus-resumable': '1.0.0' })
      const o = r.headers.get('upload-offset')
      return o === null ? undefined : Number(o)
    } catch {
      return undefined // announce again, which answers the offset too
    }
  }

  private async withRetry<T>(f: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await f()
      } catch (e) {
        if (!(e instanceof FieldsyncError) || !e.retryable || attempt + 1 >= this.maxAttempts) throw e
        await this.p.sleep(backoffMs(attempt, this.p.random, e.retryAfterMs))
      }
    }
  }

  private retire(seq: number): QueuedOp {
    return { seq, opId: this.p.randomId(), kind: 'retire', at: this.p.now().toISOString(), payload: {} }
  }

  private locked<T>(f: () => Promise<T>): Promise<T> {
    const run = this.lock.then(f, f)
    this.lock = run.catch(() => undefined)
    return run
  }

  private async refreshPending() {
    this.setState({ pending: await this.storage.pendingCount() })
  }

  private fail(e: unknown) {
    const err = e instanceof FieldsyncError ? e : new FieldsyncError(0, 'client', e instanceof Error ? e.message : String(e))
    this.setState({ lastError: { code: err.code, status: err.status, message: err.message, at: this.p.now().toISOString() } })
  }

  private setState(s: Partial<SyncState>) {
    this.state = { ...this.state, ...s }
    this.emit()
  }

  private emit() {
    for (const fn of this.listeners) fn(this.state)
  }
}

function wire(q: QueuedOp): WireOp {
  const w: WireOp = { seq: q.seq, opId: q.opId, kind: q.kind, at: q.at, payload: q.payload }
  if (q.kind !== 'retire') w.visitId = q.visitId ?? ''
  return w
}
