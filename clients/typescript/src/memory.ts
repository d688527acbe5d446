import type { Outcome, PulledChanges, QueuedOp, SyncStorage } from './storage'
import type { Incident, ServiceType, Visit } from './types'

/** Storage in memory, for tests and for trying the client out; lost with the process. */
export class MemoryStorage implements SyncStorage {
  private queue = new Map<number, QueuedOp>()
  private next = 1
  private done: Outcome[] = []
  private meta = new Map<string, string>()
  private vs = new Map<string, Visit>()
  private is = new Map<string, Incident>()
  private sts = new Map<string, ServiceType>()
  private cur?: string

  async getMeta(key: string) {
    return this.meta.get(key)
  }
  async setMeta(key: string, value: string | undefined) {
    if (value === undefined) this.meta.delete(key)
    else this.meta.set(key, value)
  }
  async enqueue(op: Omit<QueuedOp, 'seq'>): Promise<QueuedOp> {
    const q = { ...clone(op), seq: this.next++ }
    this.queue.set(q.seq, q)
    return clone(q)
  }
  async pending(limit: number) {
    return [...this.queue.values()].sort((a, b) => a.seq - b.seq).slice(0, limit).map(clone)
  }
  async pendingCount() {
    return this.queue.size
  }
  async settle(outcomes: Outcome[]) {
    for (const o of outcomes) {
      const q = this.queue.get(o.seq)
      if (q && q.opId === o.opId) {
        this.queue.delete(o.seq)
        this.done.push(clone(o))
      }
    }
  }
  async put(op: QueuedOp) {
    this.queue.set(op.seq, clone(op))
    if (op.seq >= this.next) this.next = op.seq + 1
  }
  async renumber(from: number, startAt: number) {
    const moved = [...this.queue.values()].filter((q) => q.seq >= from).sort((a, b) => a.seq - b.seq)
    for (const q of moved) this.queue.delete(q.seq)
    let s = startAt
    for (const q of moved) this.queue.set(s, { ...q, seq: s++ })
    this.next = Math.max(s, ...[...this.queue.keys()].map((k) => k + 1), 1)
  }
  async nextSeq() {
    return this.next
  }
  async raiseNextSeq(n: number) {
    if (n > this.next) this.next = n
  }
  async outcomes() {
    return this.done.map(clone)
  }
  async applyPull(c: PulledChanges) {
    if (c.resync) {
      this.vs.clear()
      this.is.clear()
    }
    for (const v of c.visits) this.vs.set(v.id, clone(v))
    for (const i of c.incidents) this.is.set(i.id, clone(i))
    if (c.serviceTypes) {
      this.sts.clear()
      for (const s of c.serviceTypes) this.sts.set(s.id, clone(s))
    }
    for (const id of c.removedVisitIds) {
      this.vs.delete(id)
      for (const [iid, i] of this.is) if (i.visitId === id) this.is.delete(iid)
    }
    this.cur = c.cursor
  }
  async cursor() {
    return this.cur
  }
  async visits() {
    return [...this.vs.values()].map(clone)
  }
  async incidents() {
    return [...this.is.values()].map(clone)
  }
  async serviceTypes() {
    return [...this.sts.values()].map(clone)
  }
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v))
}
