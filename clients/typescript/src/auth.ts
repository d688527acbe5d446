import { FieldsyncError, backoffMs } from './errors'
import { exchange, RawResponse } from './http'
import type { Platform } from './platform'
import type { KeyValue } from './storage'
import type { TokenResponse } from './types'

interface Tokens {
  accessToken: string
  refreshToken: string
  expiresAt: number // ms, by the phone's clock
}

const KEY = 'fieldsync.auth'

/**
 * The session of one device. Every caller shares one refresh in flight: a
 * burst of requests with an expired token rotates the refresh token once.
 * A refresh whose answer was lost is retried with the same refresh token:
 * within the server's REFRESH_GRACE it answers the same pair, so neither a
 * lost response nor a second process of the app presenting the same token
 * logs the worker out.
 */
export class Auth {
  private inflight?: Promise<Tokens>
  private cached?: Tokens
  /** How often a refresh answer lost on the way is retried (inside the grace window). */
  refreshRetries = 4
  onSignedOut?: (err: FieldsyncError) => void

  constructor(
    private readonly p: Platform,
    private readonly baseUrl: string,
    readonly deviceId: string,
    private readonly kv: KeyValue,
  ) {}

  /** Signs in; answers the seq the server expects next from this device. */
  async login(login: string, password: string): Promise<{ nextSeq?: number }> {
    const res = await exchange(this.p, this.baseUrl + '/v1/auth/login', 'POST', { 'content-type': 'application/json' },
      JSON.stringify({ login, password, deviceId: this.deviceId }))
    const t = JSON.parse(res.body) as TokenResponse
    await this.save(t)
    return { nextSeq: t.nextSeq }
  }

  async signedIn(): Promise<boolean> {
    return (await this.load()) !== undefined
  }

  async logout(): Promise<void> {
    try {
      await this.request('POST', '/v1/auth/logout')
    } finally {
      this.cached = undefined
      await this.kv.setMeta(KEY, undefined)
    }
  }

  /** A request with the access token; a 401 refreshes (once, shared) and retries once. */
  async request(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<RawResponse> {
    let t = await this.load()
    if (!t) throw new FieldsyncError(401, 'unauthorized', 'not signed in')
    if (t.expiresAt - 30_000 < this.p.now().getTime()) t = await this.refreshFrom(t.accessToken)
    const h: Record<string, string> = { ...headers }
    let payload: string | Uint8Array | undefined
    if (body instanceof Uint8Array) payload = body
    else if (body !== undefined) {
      payload = JSON.stringify(body)
      h['content-type'] = 'application/json'
    }
    try {
      return await exchange(this.p, this.baseUrl + path, method, { ...h, authorization: 'Bearer ' + t.accessToken }, payload)
    } catch (e) {
      if (!(e instanceof FieldsyncError) || e.status !== 401) throw e
      const fresh = await this.refreshFrom(t.accessToken)
      return exchange(this.p, this.baseUrl + path, method, { ...h, authorization: 'Bearer ' + fresh.accessToken }, payload)
    }
  }

  /**
   * Refreshes unless another caller already replaced the token that failed
   * (`used`); joins the refresh in flight if there is one.
   */
  async refreshFrom(used: string): Promise<Tokens> {
    if (this.inflight) return this.inflight
    const t = await this.load()
    if (!t) throw new FieldsyncError(401, 'unauthorized', 'not signed in')
    if (t.accessToken !== used) return t
    this.inflight = this.rotate(t).finally(() => {
      this.inflight = undefined
    })
    return this.inflight
  }

  private async rotate(t: Tokens): Promise<Tokens> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await exchange(this.p, this.baseUrl + '/v1/auth/refresh', 'POST', { 'content-type': 'application/json' },
          JSON.stringify({ refreshToken: t.refreshToken, deviceId: this.deviceId }))
        return await this.save(JSON.parse(res.body) as TokenResponse)
      } catch (e) {
        if (e instanceof FieldsyncError && e.retryable && attempt < this.refreshRetries) {
          await this.p.sleep(backoffMs(attempt, this.p.random, e.retryAfterMs, 200, 4000))
          continue
        }
        if (e instanceof FieldsyncError && e.status === 401) {
          // The session is over (revoked, reused after the grace, expired): sign in again.
          this.cached = undefined
          await this.kv.setMeta(KEY, undefined)
          this.onSignedOut?.(e)
        }
        throw e
      }
    }
  }

  private async save(r: TokenResponse): Promise<Tokens> {
    const t: Tokens = { accessToken: r.accessToken, refreshToken: r.refreshToken, expiresAt: this.p.now().getTime() + r.expiresIn * 1000 }
    await this.kv.setMeta(KEY, JSON.stringify(t))
    this.cached = t
    return t
  }

  private async load(): Promise<Tokens | undefined> {
    if (this.cached) return this.cached
    const s = await this.kv.getMeta(KEY)
    this.cached = s ? (JSON.parse(s) as Tokens) : undefined
    return this.cached
  }

  /** For tests and app restarts: forget the cached copy and read the stored tokens again. */
  forgetCache(): void {
    this.cached = undefined
  }
}
