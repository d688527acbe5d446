// What the client needs from its platform, injectable so that the same code
// runs in React Native and in Node: fetch, a SHA-256 digest, timers, ids.
// Nothing here touches a Node-only API.

export interface FetchResponse {
  status: number
  headers: { get(name: string): string | null }
  text(): Promise<string>
}

export interface FetchInit {
  method: string
  headers: Record<string, string>
  body?: string | Uint8Array
}

export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>

/** SHA-256 of the bytes. */
export type Digest = (bytes: Uint8Array) => Promise<Uint8Array>

export interface Platform {
  fetch: FetchLike
  sha256: Digest
  sleep: (ms: number) => Promise<void>
  now: () => Date
  random: () => number
  randomId: () => string
}

// Both React Native and Node have it; declared here so the package needs neither DOM nor Node types.
declare function setTimeout(cb: () => void, ms: number): unknown

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const g = globalThis as any

export function defaultPlatform(over: Partial<Platform> = {}): Platform {
  const fetchImpl: FetchLike | undefined = over.fetch ?? (typeof g.fetch === 'function' ? g.fetch.bind(g) : undefined)
  return {
    fetch: fetchImpl ?? (() => Promise.reject(new Error('fieldsync: no fetch; pass one in the platform'))),
    sha256: over.sha256 ?? subtleSha256,
    sleep: over.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms))),
    now: over.now ?? (() => new Date()),
    random: over.random ?? Math.random,
    randomId: over.randomId ?? uuid4,
  }
}

async function subtleSha256(bytes: Uint8Array): Promise<Uint8Array> {
  const subtle = g.crypto?.subtle
  if (!subtle) throw new Error('fieldsync: no crypto.subtle; pass a sha256 digest in the platform (e.g. expo-crypto)')
  return new Uint8Array(await subtle.digest('SHA-256', bytes))
}

/** A v4 UUID from crypto.randomUUID, or from Math.random where there is none (ids need uniqueness, not secrecy). */
export function uuid4(): string {
  if (typeof g.crypto?.randomUUID === 'function') return g.crypto.randomUUID()
  const h = '0123456789abcdef'
  let s = ''
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) s += '-'
    else if (i === 14) s += '4'
    else if (i === 19) s += h[8 + Math.floor(Math.random() * 4)]
    else s += h[Math.floor(Math.random() * 16)]
  }
  return s
}

export function hex(bytes: Uint8Array): string {
  let s = ''
  for (const b of bytes) s += (b < 16 ? '0' : '') + b.toString(16)
  return s
}
