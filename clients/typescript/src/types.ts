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
// A retire carries no visitId (PROTOCOL.md 3), so it is optional here.
export type WireOp = Omit<PushRequest['ops'][number], 'visitId'> & { visitId?: string }
export type OpResult = PushResponse['results'][number]
export type PullResponse = JSONOf<operations['getV1SyncPull']['responses'][200]>
export type Visit = PullResponse['visits'][number]
export type Incident = PullResponse['incidents'][number]
export type ServiceType = NonNullable<PullResponse['serviceTypes']>[number]
export type Removal = PullResponse['removed'][number]
export type NewUpload = JSONOf<operations['postV1Attachments']['requestBody']>
export type Attachment = JSONOf<operations['postV1Attachments']['responses'][201]>
export type ErrorBody = JSONOf<components['responses']['Error']>

/** The operation kinds the server folds; `retire` fills a seq (PROTOCOL.md 3). */
export type OpKind = 'checkIn' | 'checkOut' | 'runningLate' | 'progress' | 'signOff' | 'reportIncident' | 'note' | 'retire'

/** The schema version this client speaks: 2 has retire and seq_taken. */
export const SCHEMA_VERSION = 2
