// The real server for the client's tests: built from this checkout with
// `go build`, started on the embedded store in a temp DATA_DIR with the demo
// company, killed with SIGKILL and started again on the same data; and a
// proxy in front of it that loses answers and cuts connections.
import { ChildProcess, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as http from 'node:http'
import { AddressInfo } from 'node:net'
import * as os from 'node:os'
import * as path from 'node:path'

const root = path.resolve(__dirname, '..', '..', '..', '..')

export class Server {
  proc?: ChildProcess
  port = 0
  log = ''
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fieldsync-client-test-'))
  readonly bin = path.join(this.dir, 'fieldsync')
  readonly dataDir = path.join(this.dir, 'data')

  constructor(readonly env: Record<string, string> = {}) {}

  build() {
    execFileSync('go', ['build', '-o', this.bin, './server'], { cwd: root, stdio: 'inherit' })
  }

  /** Starts the server (the same port on a restart) and waits until it listens. */
  start(): Promise<void> {
    const proc = spawn(this.bin, ['-demo'], {
      env: { ...process.env, DATA_DIR: this.dataDir, PORT: String(this.port), BIND_ADDR: '127.0.0.1', LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    this.proc = proc
    return new Promise((resolve, reject) => {
      let buf = ''
      const t = setTimeout(() => reject(new Error('server did not start:\n' + buf)), 60_000)
      proc.stderr!.on('data', (d: Buffer) => {
        buf += d.toString()
        this.log += d.toString()
        const m = /msg="fieldsync listening" addr=127\.0\.0\.1:(\d+)/.exec(buf)
        if (m) {
          clearTimeout(t)
          this.port = Number(m[1])
          resolve()
        }
      })
      proc.on('exit', (code) => {
        clearTimeout(t)
        if (!/fieldsync listening/.test(buf)) reject(new Error(`server exited ${code}:\n${buf}`))
      })
    })
  }

  /** kill -9: no shutdown, no drain. */
  async kill9(): Promise<void> {
    const p = this.proc
    if (!p || p.exitCode !== null) return
    const done = new Promise((r) => p.once('exit', r))
    p.kill('SIGKILL')
    await done
  }

  async stop(): Promise<void> {
    const p = this.proc
    if (p && p.exitCode === null && p.signalCode === null) {
      const done = new Promise((r) => p.once('exit', r))
      p.kill('SIGTERM')
      await done
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
  }

  get url() {
    return `http://127.0.0.1:${this.port}`
  }
}

export type Verdict = 'pass' | 'drop-response' | 'cut-request' | 'refuse'

/**
 * A proxy to the server. `decide` says, per request, whether to pass it,
 * forward it and lose the answer (the server did the work, the phone does
 * not know), cut it before it reaches the server, or refuse it (offline).
 * `rewrite` may change an answer's body.
 */
export class Proxy {
  server?: http.Server
  port = 0
  counts = new Map<string, number>()
  decide: (req: http.IncomingMessage, n: number) => Verdict = () => 'pass'
  rewrite?: (req: http.IncomingMessage, body: Buffer) => Buffer
  dropped = 0

  constructor(private target: () => number) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const key = `${req.method} ${(req.url ?? '').split('?')[0]}`
      const n = (this.counts.get(key) ?? 0) + 1
      this.counts.set(key, n)
      const v = this.decide(req, n)
      if (v === 'refuse' ) {
        req.socket.destroy()
        return
      }
      if (v === 'cut-request') {
        // Let part of the body arrive, then hang up: the server never sees it.
        req.once('data', () => req.socket.destroy())
        req.once('end', () => req.socket.destroy())
        return
      }
      const up = http.request({ host: '127.0.0.1', port: this.target(), method: req.method, path: req.url, headers: req.headers }, (ur) => {
        const chunks: Buffer[] = []
        ur.on('data', (c: Buffer) => chunks.push(c))
        ur.on('end', () => {
          if (v === 'drop-response') {
            this.dropped++
            req.socket.destroy()
            return
          }
          let body: Buffer = Buffer.concat(chunks)
          if (this.rewrite) body = this.rewrite(req, body)
          const headers = { ...ur.headers }
          delete headers['content-length']
          delete headers['transfer-encoding']
          res.writeHead(ur.statusCode ?? 502, { ...headers, 'content-length': String(body.length) })
          res.end(body)
        })
        ur.on('error', () => req.socket.destroy())
      })
      up.on('error', () => req.socket.destroy()) // server down: the phone sees no answer
      req.pipe(up)
    })
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r))
    this.port = (this.server!.address() as AddressInfo).port
  }

  count(key: string) {
    return this.counts.get(key) ?? 0
  }

  async stop() {
    this.server?.closeAllConnections()
    await new Promise((r) => this.server?.close(r))
  }

  get url() {
    return `http://127.0.0.1:${this.port}`
  }
}

/** A seeded generator, so a failure can be run again. */
export function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const sha256 = async (b: Uint8Array) => new Uint8Array(createHash('sha256').update(b).digest())

/** Direct calls to the server as one user (no proxy, no client), to check what it holds. */
export async function signIn(base: string, login: string, deviceId: string) {
  const r = await fetch(base + '/v1/auth/login', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login, password: 'fieldsync-demo', deviceId }) })
  if (r.status !== 200) throw new Error(`login ${login}: ${r.status} ${await r.text()}`)
  const t = (await r.json()) as { accessToken: string; nextSeq?: number }
  const get = async (p: string) => {
    const res = await fetch(base + p, { headers: { authorization: 'Bearer ' + t.accessToken } })
    const text = await res.text()
    if (res.status !== 200) throw new Error(`GET ${p}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : undefined
  }
  const post = async (p: string, body: unknown) => {
    const res = await fetch(base + p, { method: 'POST', headers: { authorization: 'Bearer ' + t.accessToken, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    const text = await res.text()
    if (res.status >= 300) throw new Error(`POST ${p}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : undefined
  }
  return { token: t.accessToken, nextSeq: t.nextSeq, get, post }
}
