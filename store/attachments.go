package store

import "fieldsync/store/doc"

// attachmentCollections are the collections Attachments writes.
var attachmentCollections = []doc.Collection{}

// Attachments stores attachments: contents, uploads, links.
type Attachments struct{ s *Store }
