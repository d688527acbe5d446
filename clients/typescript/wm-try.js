const { Database, appSchema, tableSchema, Model } = require('@nozbe/watermelondb')
const LokiJSAdapter = require('@nozbe/watermelondb/adapters/lokijs').default
const { synchronize } = require('@nozbe/watermelondb/sync')
class Visit extends Model { static table = 'visits' }
const schema = appSchema({ version: 1, tables: [tableSchema({ name: 'visits', columns: [{ name: 'data', type: 'string' }] })] })
const adapter = new LokiJSAdapter({ schema, useWebWorker: false, useIncrementalIndexedDB: false, dbName: 't1' })
const db = new Database({ adapter, modelClasses: [Visit] })
;(async () => {
  await synchronize({ database: db, pullChanges: async () => ({ changes: { visits: { created: [{ id: 'a', data: 'x' }], updated: [], deleted: [] } }, timestamp: 1 }), pushChanges: async ({ changes }) => console.log('push', JSON.stringify(changes)) })
  const all = await db.get('visits').query().fetch()
  console.log(all.map(r => r._raw))
})().catch(e => { console.error(e); process.exit(1) })
