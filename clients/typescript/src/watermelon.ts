// fieldsync over WatermelonDB: the queue, its outcomes, the pulled visits,
// incidents and catalog are rows of the app's own database (add
// `fieldsyncTables` to its schema and `fieldsyncModels` to its model
// classes), and `watermelonSync` gives the pullChanges/pushChanges that
// WatermelonDB's own `synchronize()` takes. WatermelonDB is used as shipped.
/* eslint-disable @typescript-eslint/no-explicit-any */
import { Model, Q, tableSchema } from '@nozbe/watermelondb'
import type { Database } from '@nozbe/watermelondb'
import type { FieldsyncClient } from './client'
import type { Outcome, PulledChanges, QueuedOp, SyncStorage } from './storage'
import type { Incident, PullResponse, ServiceType, Visit } from './types'

export const watermelonTables = {
  ops: 'fs_ops',
  meta: 'fs_meta',
  visits: 'fs_visits',
  incidents: 'fs_incidents',
  serviceTypes: 'fs_service_types',
} as const
const T = watermelonTables

/** The tables to add to the app's appSchema. */
export const fieldsyncTables = [
  tableSchema({
    name: T.ops,
    columns: [
      { name: 'seq', type: 'number', isIndexed: true },
      { name: 'kind', type: 'string' },
      { name: 'visit_id', type: 'string', isOptional: true, isIndexed: true },
      { name: 'at', type: 'string' },
      { name: 'payload', type: 'string' }, // JSON
      // queued, then applied / conflict / duplicate / rejected; discarded: a draft replaced by a retire
      { name: 'state', type: 'string', isIndexed: true },
      { name: 'code', type: 'string', isOptional: true },
      { name: 'rule', type: 'string', isOptional: true },
      { name: 'rules', type: 'string', isOptional: true }, // JSON
      { name: 'message', type: 'string', isOptional: true },
      { name: 'settled_at', type: 'string', isOptional: true },
    ],
  }),
  tableSchema({ name: T.meta, columns: [{ name: 'value', type: 'string' }] }),
  tableSchema({
    name: T.visits,
    columns: [
      { name: 'status', type: 'string' },
      { name: 'scheduled_start', type: 'string', isIndexed: true },
      { name: 'data', type: 'string' }, // the worker's view of the visit, JSON
    ],
  }),
  tableSchema({ name: T.incidents, columns: [{ name: 'visit_id', type: 'string', isIndexed: true }, { name: 'data', type: 'string' }] }),
  tableSchema({ name: T.serviceTypes, columns: [{ name: 'name', type: 'string' }, { name: 'data', type: 'string' }] }),
]

export class FsOp extends Model { static table = T.ops }
export class FsMeta extends Model { static table = T.meta }
export class FsVisit extends Model { static table = T.visits }
export class FsIncident extends Model { static table = T.incidents }
export class FsServiceType extends Model { static table = T.serviceTypes }
/** The model classes to add to the app's Database. */
export const fieldsyncModels = [FsOp, FsMeta, FsVisit, FsIncident, FsServiceType]

const QUEUED = 'queued'
const NEXT_SEQ = 'fieldsync.nextSeq'
const CURSOR = 'fieldsync.cursor'

type Raw = Record<string, any>
const raw = (m: Model): Raw => (m as any)._raw

/** Row shapes of the pulled tables. */
export const rows = {
  visit: (v: Visit): Raw => ({ id: v.id, status: v.status, scheduled_start: v.scheduledStart, data: JSON.stringify(v) }),
  incident: (i: Incident): Raw => ({ id: i.id, visit_id: i.visitId, data: JSON.stringify(i) }),
  serviceType: (s: ServiceType): Raw => ({ id: s.id, name: s.name, data: JSON.stringify(s) }),
}

/** SyncStorage over the app's WatermelonDB; each method is one database.write. */
export class WatermelonStorage implements SyncStorage {
  constructor(readonly db: Database) {}

  private col(t: string) {
    return this.db.get<Model>(t)
  }

  private async metaRow(key: string): Promise<Model | undefined> {
    const r = await this.col(T.meta).query(Q.where('id', key)).fetch()
    return r[0]
  }

  private async prepareMeta(key: string, value: string | undefined): Promise<Model | undefined> {
    const row = await this.metaRow(key)
    if (value === undefined) return row?.prepareDestroyPermanently()
    if (row) return row.prepareUpdate((r) => void (raw(r).value = value))
    return this.col(T.meta).prepareCreateFromDirtyRaw({ id: key, value })
  }

  async getMeta(key: string) {
    const r = await this.metaRow(key)
    return r ? (raw(r).value as string) : undefined
  }

  async setMeta(key: string, value: string | undefined) {
    await this.db.write(async () => {
      const p = await this.prepareMeta(key, value)
      if (p) await this.db.batch(p)
    })
  }

  private async readNext(): Promise<number> {
    const s = await this.getMeta(NEXT_SEQ)
    return s ? Number(s) : 1
  }

  async enqueue(op: Omit<QueuedOp, 'seq'>): Promise<QueuedOp> {
    return this.db.write(async () => {
      const seq = await this.readNext()
      await this.db.batch(
        this.col(T.ops).prepareCreateFromDirtyRaw(opRow({ ...op, seq })),
        (await this.prepareMeta(NEXT_SEQ, String(seq + 1)))!,
      )
      return { ...op, seq }
    })
  }

  private queuedRows() {
    return this.col(T.ops).query(Q.where('state', QUEUED), Q.sortBy('seq', Q.asc)).fetch()
  }

  async pending(limit: number) {
    return (await this.queuedRows()).slice(0, limit).map(toOp)
  }

  async pendingCount() {
    return this.col(T.ops).query(Q.where('state', QUEUED)).fetchCount()
  }

  async settle(outcomes: Outcome[]) {
    if (outcomes.length === 0) return
    await this.db.write(async () => {
      const byId = new Map(outcomes.map((o) => [o.opId, o]))
      const rs = await this.col(T.ops).query(Q.where('id', Q.oneOf([...byId.keys()]))).fetch()
      await this.db.batch(
        ...rs.filter((r) => raw(r).state === QUEUED && raw(r).seq === byId.get(r.id)!.seq).map((r) => {
          const o = byId.get(r.id)!
          return r.prepareUpdate((m) => {
            Object.assign(raw(m), { state: o.status, code: o.code ?? null, rule: o.rule ?? null,
              rules: o.rules ? JSON.stringify(o.rules) : null, message: o.message ?? null, settled_at: o.settledAt })
          })
        }),
      )
    })
  }

  async put(op: QueuedOp) {
    await this.db.write(async () => {
      const at = await this.col(T.ops).query(Q.where('state', QUEUED), Q.where('seq', op.seq)).fetch()
      const next = await this.readNext()
      const ps: Model[] = at.map((r) => r.prepareUpdate((m) => void (raw(m).state = 'discarded')))
      ps.push(this.col(T.ops).prepareCreateFromDirtyRaw(opRow(op)))
      if (op.seq >= next) ps.push((await this.prepareMeta(NEXT_SEQ, String(op.seq + 1)))!)
      await this.db.batch(...ps)
    })
  }

  async renumber(from: number, startAt: number) {
    await this.db.write(async () => {
      const all = await this.queuedRows()
      let s = startAt
      const ps: Model[] = all.filter((r) => raw(r).seq >= from).map((r) => {
        const seq = s++
        return r.prepareUpdate((m) => void (raw(m).seq = seq))
      })
      const top = Math.max(s, ...all.filter((r) => raw(r).seq < from).map((r) => raw(r).seq + 1))
      ps.push((await this.prepareMeta(NEXT_SEQ, String(top)))!)
      await this.db.batch(...ps)
    })
  }

  nextSeq() {
    return this.readNext()
  }

  async raiseNextSeq(n: number) {
    if (n > (await this.readNext())) await this.setMeta(NEXT_SEQ, String(n))
  }

  async outcomes(): Promise<Outcome[]> {
    const rs = await this.col(T.ops).query(Q.where('state', Q.oneOf(['applied', 'conflict', 'duplicate', 'rejected'])), Q.sortBy('seq', Q.asc)).fetch()
    return rs.map((r) => {
      const x = raw(r)
      return { seq: x.seq, opId: r.id, kind: x.kind, visitId: x.visit_id ?? undefined, status: x.state, code: x.code ?? undefined,
        rule: x.rule ?? undefined, rules: x.rules ? JSON.parse(x.rules) : undefined, message: x.message ?? undefined, settledAt: x.settled_at }
    })
  }

  /** The changes of a pull as WatermelonDB sync change sets (created / updated / deleted per table). */
  async changeSet(c: Omit<PulledChanges, 'cursor'>) {
    const set = async (t: string, incoming: Raw[], drop: string[], replaceAll: boolean) => {
      const have = new Set((await this.col(t).query().fetchIds()) as string[])
      const keep = new Set(incoming.map((r) => r.id))
      const deleted = replaceAll ? [...have].filter((id) => !keep.has(id)) : drop.filter((id) => have.has(id) && !keep.has(id))
      return {
        created: incoming.filter((r) => !have.has(r.id)),
        updated: incoming.filter((r) => have.has(r.id)),
        deleted,
      }
    }
    let dropIncidents: string[] = []
    if (c.removedVisitIds.length) {
      const rs = await this.col(T.incidents).query(Q.where('visit_id', Q.oneOf(c.removedVisitIds))).fetchIds()
      dropIncidents = rs as string[]
    }
    return {
      [T.visits]: await set(T.visits, c.visits.map(rows.visit), c.removedVisitIds, c.resync),
      [T.incidents]: await set(T.incidents, c.incidents.map(rows.incident), dropIncidents, c.resync),
      [T.serviceTypes]: c.serviceTypes ? await set(T.serviceTypes, c.serviceTypes.map(rows.serviceType), [], true) : { created: [], updated: [], deleted: [] },
    }
  }

  /** Without synchronize(): applies a pull and its cursor in one write. */
  async applyPull(c: PulledChanges) {
    await this.db.write(async () => {
      const set = await this.changeSet(c)
      const ps: Model[] = []
      for (const [t, s] of Object.entries(set)) {
        const col = this.col(t)
        for (const r of s.created) ps.push(col.prepareCreateFromDirtyRaw({ ...r, _status: 'synced' }))
        if (s.updated.length || s.deleted.length) {
          const ids = [...s.updated.map((r) => r.id), ...s.deleted]
          const existing = new Map((await col.query(Q.where('id', Q.oneOf(ids))).fetch()).map((m) => [m.id, m]))
          for (const r of s.updated) ps.push(existing.get(r.id)!.prepareUpdate((m) => void Object.assign(raw(m), r)))
          for (const id of s.deleted) ps.push(existing.get(id)!.prepareDestroyPermanently())
        }
      }
      ps.push((await this.prepareMeta(CURSOR, c.cursor))!)
      await this.db.batch(...ps)
    })
  }

  cursor() {
    return this.getMeta(CURSOR)
  }

  private async data<X>(t: string): Promise<X[]> {
    return (await this.col(t).query().fetch()).map((r) => JSON.parse(raw(r).data))
  }
  visits() {
    return this.data<Visit>(T.visits)
  }
  incidents() {
    return this.data<Incident>(T.incidents)
  }
  serviceTypes() {
    return this.data<ServiceType>(T.serviceTypes)
  }
}

function opRow(op: QueuedOp): Raw {
  return { id: op.opId, seq: op.seq, kind: op.kind, visit_id: op.visitId ?? null, at: op.at, payload: JSON.stringify(op.payload), state: QUEUED }
}

function toOp(r: Model): QueuedOp {
  const x = raw(r)
  const q: QueuedOp = { seq: x.seq, opId: r.id, kind: x.kind, at: x.at, payload: JSON.parse(x.payload) }
  if (x.visit_id) q.visitId = x.visit_id
  return q
}

/**
 * pullChanges and pushChanges for WatermelonDB's synchronize():
 *
 *     await synchronize({ database, ...watermelonSync(client, storage) })
 *
 * pullChanges first pushes the queue (so the pull shows the phone's own
 * writes), then pulls until hasMore is false and answers the rows. The
 * fieldsync cursor is a string and WatermelonDB keeps a number: each pull's
 * cursor is stored under the timestamp it answers, and used only when
 * WatermelonDB reports that timestamp as lastPulledAt, which it commits in
 * the same write as the pulled rows; so a cursor counts only once its
 * changes are applied. pushChanges sends what was queued meanwhile; row
 * changes of the app's other tables are not fieldsync's (it syncs
 * operations, not rows) and are left alone.
 */
export function watermelonSync(client: FieldsyncClient, storage: WatermelonStorage) {
  return {
    pullChanges: ({ lastPulledAt }: { lastPulledAt?: number | null }) => tracked(client, async () => {
      await client.push()
      let cursor = lastPulledAt ? await storage.getMeta(`${CURSOR}@${lastPulledAt}`) : undefined
      const acc = new Map<string, Visit | null>()
      const incidents = new Map<string, Incident>()
      let serviceTypes: ServiceType[] | undefined
      let resync = false
      for (let first = true; ; first = false) {
        const page: PullResponse = await client.pullPage(cursor)
        if (page.resync && first) resync = true
        else if (page.resync) {
          acc.clear() // a snapshot replaces what earlier pages said
          incidents.clear()
          resync = true
        }
        for (const v of page.visits) acc.set(v.id, v)
        for (const r of page.removed) acc.set(r.visitId, null)
        for (const i of page.incidents) incidents.set(i.id, i)
        if (page.serviceTypes) serviceTypes = page.serviceTypes
        cursor = page.cursor
        if (!page.hasMore) break
      }
      const visits = [...acc.values()].filter((v): v is Visit => v !== null)
      const removedVisitIds = [...acc.entries()].filter(([, v]) => v === null).map(([id]) => id)
      const changes = await storage.changeSet({ resync, visits, incidents: [...incidents.values()].filter((i) => !removedVisitIds.includes(i.visitId)), serviceTypes, removedVisitIds })
      const prev = Number((await storage.getMeta(`${CURSOR}.lastTs`)) ?? 0)
      const timestamp = Math.max(Date.now(), prev + 1, (lastPulledAt ?? 0) + 1)
      await storage.db.write(async () => {
        // Keep the cursor WatermelonDB has now and the new candidate; older ones are done with.
        const rs = await storage.db.get<Model>(T.meta).query().fetch()
        const stale = (id: string) => id.startsWith(CURSOR + '@') && id !== `${CURSOR}@${lastPulledAt}`
        const ps: Model[] = rs.filter((r) => stale(r.id)).map((r) => r.prepareDestroyPermanently())
        ps.push(storage.db.get<Model>(T.meta).prepareCreateFromDirtyRaw({ id: `${CURSOR}@${timestamp}`, value: cursor }))
        const last = await storage.db.get<Model>(T.meta).query(Q.where('id', `${CURSOR}.lastTs`)).fetch()
        ps.push(last[0] ? last[0].prepareUpdate((m) => void (raw(m).value = String(timestamp))) : storage.db.get<Model>(T.meta).prepareCreateFromDirtyRaw({ id: `${CURSOR}.lastTs`, value: String(timestamp) }))
        await storage.db.batch(...ps)
      })
      return { changes, timestamp }
    }),
    pushChanges: () => tracked(client, async () => {
      await client.push()
      await client.succeeded()
    }),
  }
}

async function tracked<X>(client: FieldsyncClient, f: () => Promise<X>): Promise<X> {
  try {
    return await f()
  } catch (e) {
    client.failed(e)
    throw e
  }
}
