import type { Incident, OpResult, ServiceType, Visit } from './types'

/** An operation in the queue: its seq was assigned when it was queued and is stored with it. */
export interface QueuedOp {
  seq: number
  opId: string
  kind: string
  visitId?: string
  at: string // RFC 3339, the phone's clock when it happened
  payload: Record<string, unknown>
}

/** What became of an operation the server answered for good. */
export interface Outcome {
  seq: number
  opId: string
  kind: string
  visitId?: string
  status: 'applied' | 'conflict' | 'duplicate' | 'rejected'
  code?: string
  rule?: string
  rules?: string[]
  message?: string
  settledAt: string
}

/** One pull's worth of changes, applied in one write together with the cursor. */
export interface PulledChanges {
  resync: boolean
  visits: Visit[]
  incidents: Incident[]
  serviceTypes?: ServiceType[] // the whole active catalog, when it changed
  removedVisitIds: string[]
  cursor: string
}

export interface KeyValue {
  getMeta(key: string): Promise<string | undefined>
  setMeta(key: string, value: string | undefined): Promise<void>
}

/**
 * Where the client keeps its queue, its local copy and its cursor. Each
 * method is one atomic write: whatever the app is killed in the middle of,
 * the queue is either before or after it.
 */
export interface SyncStorage extends KeyValue {
  /** Assigns the next seq and stores the operation with it, in one write. */
  enqueue(op: Omit<QueuedOp, 'seq'>): Promise<QueuedOp>
  /** Queued operations, lowest seq first. */
  pending(limit: number): Promise<QueuedOp[]>
  pendingCount(): Promise<number>
  /** Takes answered operations off the queue and records their outcomes. */
  settle(outcomes: Outcome[]): Promise<void>
  /** Replaces the queued operation at op.seq (a discarded draft becomes a retire), or inserts one (a hole). */
  put(op: QueuedOp): Promise<void>
  /**
   * Gives every queued operation with seq >= from new consecutive seqs
   * starting at startAt, in their order, keeping their opIds; the next seq
   * to assign follows them.
   */
  renumber(from: number, startAt: number): Promise<void>
  /** The seq the next enqueue gets. */
  nextSeq(): Promise<number>
  /** Raises the next seq to at least n (a reinstall learning the server's). */
  raiseNextSeq(n: number): Promise<void>
  outcomes(): Promise<Outcome[]>
  /** Applies a pull, then stores its cursor, in one write. */
  applyPull(c: PulledChanges): Promise<void>
  cursor(): Promise<string | undefined>
  visits(): Promise<Visit[]>
  incidents(): Promise<Incident[]>
  serviceTypes(): Promise<ServiceType[]>
}

export type { OpResult }
