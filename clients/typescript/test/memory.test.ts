import { MemoryStorage } from '../src'
import { phoneWith, scenarios } from './scenarios'

scenarios('client on MemoryStorage', async (deviceId, url, seed) => {
  const storage = new MemoryStorage()
  const client = phoneWith(storage, deviceId, url, seed)
  return { client, storage, sync: () => client.sync() }
})
