/** An answer of the server that is not a success, with its machine-readable code. */
export class FieldsyncError extends Error {
  constructor(
    readonly status: number, // 0: no answer (network)
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    readonly retryAfterMs?: number,
  ) {
    super(message)
    this.name = 'FieldsyncError'
  }

  /** Worth trying again later: no answer, 429, 5xx. */
  get retryable(): boolean {
    return this.status === 0 || this.status === 429 || this.status >= 500
  }
}

export function networkError(cause: unknown): FieldsyncError {
  const msg = cause instanceof Error ? cause.message : String(cause)
  return new FieldsyncError(0, 'network', `no answer from the server: ${msg}`)
}

/** Backoff with full jitter, at least what Retry-After asked for. */
export function backoffMs(attempt: number, random: () => number, retryAfterMs = 0, baseMs = 250, capMs = 30_000): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 16))
  return Math.max(retryAfterMs, Math.floor(random() * ceiling))
}
