import { MemoryStorage, Visit } from '../src'
import { Phone, phoneWith, scenarios } from './scenarios'

scenarios('client on MemoryStorage', async (deviceId, url, seed) => {
  const storage = new MemoryStorage()
  const open = (maxAttempts?: number): Phone => {
    const client = phoneWith(storage, deviceId, url, seed, maxAttempts)
    return {
      client, storage, sync: () => client.sync(), reopen: open,
      spoil: () => storage.applyPull({ resync: false, visits: [{ id: 'ghost' } as Visit], incidents: [], removedVisitIds: [], cursor: 'not-a-cursor' }),
    }
  }
  return open()
})
