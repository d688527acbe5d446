package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	gosync "sync"
	"testing"
	"time"

	"fieldsync/schemas"
	fsync "fieldsync/sync"
)

// notified records which alerts the engine told people about.
type notified struct {
	mu  gosync.Mutex
	ids []string
}

func (n *notified) Alert(_ context.Context, a *schemas.Alert) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.ids = append(n.ids, a.ID)
	return nil
}

// TestAlertFloodOnOneVisitCoalesced: 30 incidents reported on one visit in
// two pushes within the window are one incident alert counting 30, told
// once; retrying the pushes counts nothing again.
func TestAlertFloodOnOneVisitCoalesced(t *testing.T) {
	db, v, a := setup(t)
	e := engine(db)
	n := &notified{}
	e.SetNotifier(n)
	ctx := context.Background()
	incidents := func(from, to int) *fsync.Batch {
		b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: 1, DeviceClock: now0, Ops: []fsync.Op{}}
		for i := from; i <= to; i++ {
			b.Ops = append(b.Ops, fsync.Op{Seq: int64(i), OpID: schemas.NewID(), Kind: fsync.KindIncident, VisitID: v.ID,
				At: v.ScheduledStart.Add(time.Duration(i) * time.Minute), Payload: json.RawMessage(fmt.Sprintf(`{"category":"other","severity":"low","text":"incident %d"}`, i))})
		}
		return b
	}
	first, second := incidents(1, 25), incidents(26, 30)
	for _, b := range []*fsync.Batch{first, second, first, second} {
		if _, err := e.Push(ctx, a, b); err != nil {
			t.Fatal(err)
		}
	}
	alerts := visitAlerts(t, db, v.ID, "incident")
	if len(alerts) != 1 || alerts[0].Count != 30 {
		t.Fatalf("%d incident alerts, want one counting 30", len(alerts))
	}
	if len(n.ids) != 1 || n.ids[0] != alerts[0].ID {
		t.Fatalf("notified %v, want once for %s", n.ids, alerts[0].ID)
	}
}
