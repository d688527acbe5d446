import { Database, appSchema, tableSchema } from '@nozbe/watermelondb'
import LokiJSAdapter from '@nozbe/watermelondb/adapters/lokijs'
import { synchronize } from '@nozbe/watermelondb/sync'
import { fieldsyncModels, fieldsyncTables, WatermelonStorage, watermelonSync } from '../src/watermelon'
import { phoneWith, scenarios } from './scenarios'

let n = 0
scenarios('WatermelonDB (LokiJS adapter) through its own synchronize()', async (deviceId, url, seed) => {
  // The app's schema with an app table of its own beside fieldsync's.
  const schema = appSchema({ version: 1, tables: [...fieldsyncTables, tableSchema({ name: 'drafts', columns: [{ name: 'text', type: 'string' }] })] })
  const adapter = new LokiJSAdapter({ schema, useWebWorker: false, useIncrementalIndexedDB: true, dbName: `phone-${n++}`,
    extraLokiOptions: { autosave: false } })
  const database = new Database({ adapter, modelClasses: [...fieldsyncModels] })
  const storage = new WatermelonStorage(database)
  const client = phoneWith(storage, deviceId, url, seed)
  const sync = () => synchronize({ database, ...watermelonSync(client, storage) })
  client.useSyncRunner(sync)
  return { client, storage, sync }
})
