import { FieldsyncError, networkError } from './errors'
import type { FetchResponse, Platform } from './platform'

export interface RawResponse {
  status: number
  headers: FetchResponse['headers']
  body: string
}

/** One HTTP exchange; a non-2xx answer becomes a FieldsyncError with the server's code. */
export async function exchange(
  p: Platform,
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string | Uint8Array,
): Promise<RawResponse> {
  let res: FetchResponse
  let text: string
  try {
    res = await p.fetch(url, { method, headers, body })
    text = await res.text()
  } catch (e) {
    throw networkError(e)
  }
  if (res.status >= 200 && res.status < 300) return { status: res.status, headers: res.headers, body: text }
  throw errorOf(res.status, res.headers, text)
}

function errorOf(status: number, headers: FetchResponse['headers'], text: string): FieldsyncError {
  let code = status >= 500 ? 'internal' : 'http_' + status
  let message = `HTTP ${status}`
  let details: Record<string, unknown> = {}
  try {
    const e = JSON.parse(text)?.error
    if (e && typeof e.code === 'string') {
      code = e.code
      message = e.message ?? message
      details = e.details ?? {}
    }
  } catch {
    // not our error body (a proxy's page): keep the status
  }
  const ra = headers.get('retry-after')
  const retryAfterMs = ra && /^\d+$/.test(ra) ? Number(ra) * 1000 : undefined
  return new FieldsyncError(status, code, message, details, retryAfterMs)
}
