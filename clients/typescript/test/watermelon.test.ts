import assert from 'node:assert/strict'
import { Database, Model, appSchema, tableSchema } from '@nozbe/watermelondb'
import LokiJSAdapter from '@nozbe/watermelondb/adapters/lokijs'
import { synchronize } from '@nozbe/watermelondb/sync'
import { fieldsyncModels, fieldsyncTables, watermelonTables, WatermelonStorage, watermelonSync } from '../src/watermelon'
import { Phone, phoneWith, scenarios } from './scenarios'

let n = 0
scenarios('WatermelonDB (LokiJS adapter) through its own synchronize()', async (deviceId, url, seed) => {
  // The app's schema with an app table of its own beside fieldsync's.
  const schema = appSchema({ version: 1, tables: [...fieldsyncTables, tableSchema({ name: 'drafts', columns: [{ name: 'text', type: 'string' }] })] })
  const adapter = new LokiJSAdapter({ schema, useWebWorker: false, useIncrementalIndexedDB: true, dbName: `phone-${n++}`,
    extraLokiOptions: { autosave: false } })
  const database = new Database({ adapter, modelClasses: [...fieldsyncModels] })
  const open = (maxAttempts?: number): Phone => {
    const storage = new WatermelonStorage(database)
    const client = phoneWith(storage, deviceId, url, seed, maxAttempts)
    const sync = () => synchronize({ database, ...watermelonSync(client, storage) })
    client.useSyncRunner(sync)
    const spoil = () => database.write(async () => {
      const meta = await database.get<Model>(watermelonTables.meta).query().fetch()
      await database.batch(
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        ...meta.filter((m) => m.id.startsWith('fieldsync.cursor@')).map((m) => m.prepareUpdate((r) => void ((r as any)._raw.value = 'not-a-cursor'))),
        database.get<Model>(watermelonTables.visits).prepareCreateFromDirtyRaw({ id: 'ghost', status: 'scheduled', scheduled_start: '', data: '{"id":"ghost"}' }),
      )
    })
    // Queued operations and their results, visits and the catalog are rows of the app's database.
    const checkRows = async (ops: number) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const rows = async (t: string) => (await database.get<Model>(t).query().fetch()).map((m) => (m as any)._raw)
      const opRows = (await rows(watermelonTables.ops)).filter((r) => r.kind === 'note')
      assert.equal(opRows.length, ops)
      assert.ok(opRows.every((r) => r.state === 'applied' || r.state === 'duplicate'), 'each op row holds its result')
      const visits = await rows(watermelonTables.visits)
      assert.ok(visits.length > 0 && visits.every((r) => JSON.parse(r.data).id === r.id && r.status))
      assert.ok((await rows(watermelonTables.serviceTypes)).length > 0, 'the catalog arrived')
    }
    return { client, storage, sync, reopen: open, spoil, checkRows }
  }
  return open()
})
