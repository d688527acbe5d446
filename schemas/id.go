package schemas

import (
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/google/uuid"
)

// NewID returns a new time-ordered id (UUIDv7) from the wall clock, for
// what is not stored: request ids, instance names. Stored records take
// NewIDAt with the injected clock.
func NewID() string { return uuid.Must(uuid.NewV7()).String() }

var idSeq struct {
	sync.Mutex
	ms, seq int64
}

// NewIDAt returns a UUIDv7 for a record created at t: t's Unix milliseconds,
// then a counter, then random bits. Ids sort by creation, so cursor
// pagination by id is stable and index inserts stay local; the counter
// keeps that order among ids made in one millisecond (a test's fixed clock
// makes many).
func NewIDAt(t time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics rather than return short)
	ms := t.UnixMilli()
	idSeq.Lock()
	if ms == idSeq.ms && idSeq.seq < 0xfff {
		idSeq.seq++
	} else {
		// A fresh millisecond starts low, leaving room to count up.
		idSeq.ms, idSeq.seq = ms, int64(binary.BigEndian.Uint16(b[6:8])&0x3ff)
	}
	seq := idSeq.seq
	idSeq.Unlock()
	binary.BigEndian.PutUint64(b[0:8], uint64(ms)<<16|uint64(seq))
	b[6] = 0x70 | b[6]&0x0f // version 7
	b[8] = 0x80 | b[8]&0x3f // RFC 9562 variant
	return uuid.UUID(b).String()
}

// IDTime is the creation time a UUIDv7 id carries (ok false for other ids).
func IDTime(id string) (time.Time, bool) {
	u, err := uuid.Parse(id)
	if err != nil || len(id) != 36 || u.Version() != 7 || u.Variant() != uuid.RFC4122 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(u[0:8]) >> 16)).UTC(), true
}

// ValidID reports whether s has the shape of an id (NewID, NewIDAt), so
// malformed ids are refused before they reach the store.
func ValidID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil
}
