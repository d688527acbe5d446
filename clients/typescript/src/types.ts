// The wire types, taken from the generated OpenAPI types so that a
// contract change breaks the build here instead of in a phone.
import type { components, operations } from './generated/openapi'

type JSONOf<T> = T extends { content: { 'application/json': infer B } } ? B : never

export type LoginRequest = JSONOf<operations['postV1AuthLogin']['requestBody']>
// nextSeq: the seq the server expects next from this device (PROTOCOL.md 1);
// optional while a server without it answers.
export type TokenResponse = JSONOf<operations['postV1AuthLogin']['responses'][200]> & { nextSeq?: number }
export type PushRequest = JSONOf<operations['postV1SyncPush']['requestBody']>
export type PushResponse = JSONOf<operations['postV1SyncPush']['responses'][200]>
/** One operation as the document describes it: a union discriminated by kind. */
export type Op = PushRequest['ops'][number]
/** The operation kinds, from the document (retire fills a seq, PROTOCOL.md 3). */
export type OpKind = Op['kind']
/** The payload of one kind, from the document. */
export type PayloadOf<K extends OpKind> = NonNullable<Extract<Op, { kind: K }>['payload']>
// What the client sends; checked against Op where it is built.
export interface WireOp {
  seq: number
  opId: string
  kind: string
  visitId?: string
  at: string
  payload: Record<string, unknown>
}
export type OpResult = PushResponse['results'][number]
export type PullResponse = JSONOf<operations['getV1SyncPull']['responses'][200]>
export type Visit = PullResponse['visits'][number]
export type Incident = PullResponse['incidents'][number]
export type ServiceType = NonNullable<PullResponse['serviceTypes']>[number]
export type Removal = PullResponse['removed'][number]
export type NewUpload = JSONOf<operations['postV1Attachments']['requestBody']>
export type Attachment = JSONOf<operations['postV1Attachments']['responses'][201]>
export type ErrorBody = components['schemas']['ErrorBody']

/**
 * The schema version this client speaks: 2 has retire and seq_taken; 3
 * acceptAssignment and declineAssignment; 4 customerAbsent, changeScope,
 * escalate and message. The kinds themselves are typed from the document.
 */
export const SCHEMA_VERSION = 4
