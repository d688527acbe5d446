package sync_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/store"
	"fieldsync/server/store/storetest"
	fsync "fieldsync/sync"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var now0 = time.Date(2037, 12, 1, 8, 0, 0, 0, time.UTC)

// clock0 stands at now0, in the machine's zone as time.Now answers.
func clock0() time.Time { return now0.In(time.Local) }

func setup(t *testing.T) (*store.DB, *schemas.Visit, *schemas.Actor) {
	db := storetest.New(t)
	db.Now = clock0
	v := &schemas.Visit{ID: schemas.NewID(), CustomerID: schemas.NewID(), WorkerID: schemas.NewID(), Team: "team-1", TimeZone: "Asia/Shanghai",
		ScheduledStart: now0.Add(-4 * time.Hour), ScheduledEnd: now0.Add(-time.Hour), Status: schemas.VisitScheduled, OfficeStatus: schemas.VisitScheduled,
		Address:   schemas.VisitAddress{Text: "上海", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}},
		Checklist: []schemas.VisitChecklistItem{{ID: "kitchen"}, {ID: "floors"}}, Version: 1, CreatedAt: now0, UpdatedAt: now0}
	if err := db.InsertVisit(context.Background(), v); err != nil {
		t.Fatal(err)
	}
	a := &schemas.Actor{UserID: schemas.NewID(), Role: schemas.RoleWorker, WorkerID: v.WorkerID, Team: "team-1", DeviceID: "phone-1"}
	return db, v, a
}

func engine(db *store.DB) *fsync.Engine {
	return fsync.New(db, clock0, slog.New(slog.DiscardHandler), fsync.DefaultRules, fsync.DefaultLimits, nil)
}

func batch(v *schemas.Visit, n int) *fsync.Batch {
	b := &fsync.Batch{DeviceID: "phone-1", SchemaVersion: 1, DeviceClock: now0, Ops: []fsync.Op{}}
	for i := 1; i <= n; i++ {
		var kind, payload string
		switch i % 4 {
		case 1:
			kind, payload = fsync.KindProgress, fmt.Sprintf(`{"itemId":"%s","done":%v}`, []string{"kitchen", "floors"}[i%2], i%3 == 0)
		case 2:
			kind, payload = fsync.KindNote, fmt.Sprintf(`{"text":"note %d"}`, i)
		case 3:
			kind, payload = fsync.KindCheckIn, `{"location":{"lat":31.2,"lng":121.45,"accuracyM":5}}`
		default:
			kind, payload = fsync.KindIncident, fmt.Sprintf(`{"category":"other","severity":"low","text":"incident %d"}`, i)
		}
		b.Ops = append(b.Ops, fsync.Op{Seq: int64(i), OpID: schemas.NewID(), Kind: kind, VisitID: v.ID,
			At: v.ScheduledStart.Add(time.Duration(i) * time.Minute), Payload: json.RawMessage(payload)})
	}
	return b
}

func fieldJSON(t *testing.T, db *store.DB, id string) (string, *schemas.Visit) {
	v, err := db.VisitByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(v.Field)
	return string(b), v
}

// TestStoreGoesAwayMidBatch cuts pushes off at random points (a deadline
// of a few milliseconds stands in for the store going away), retries until
// the batch lands, and checks the visit ends exactly as after one clean
// push: nothing twice, nothing lost.
func TestStoreGoesAwayMidBatch(t *testing.T) {
	cleanDB, cleanV, a := setup(t)
	b := batch(cleanV, 24)
	if _, err := engine(cleanDB).Push(context.Background(), a, b); err != nil {
		t.Fatal(err)
	}
	want, _ := fieldJSON(t, cleanDB, cleanV.ID)

	db, v, a2 := setup(t)
	// Same operations (ids, times) against the second visit.
	for i := range b.Ops {
		b.Ops[i].VisitID = v.ID
	}
	a2.WorkerID = v.WorkerID
	e := engine(db)
	rng := rand.New(rand.NewPCG(3, 5))
	failures := 0
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Duration(1+rng.IntN(40))*time.Millisecond)
		if attempt > 60 {
			cancel()
			ctx = context.Background()
		}
		resp, err := e.Push(ctx, a2, b)
		cancel()
		if err != nil {
			failures++
			continue
		}
		for _, r := range resp.Results {
			if r.Status != fsync.StatusApplied && r.Status != fsync.StatusDuplicate && r.Status != fsync.StatusConflict {
				t.Fatalf("op %d: %+v", r.Seq, r)
			}
		}
		break
	}
	if failures == 0 {
		t.Log("no push was cut off; the deadlines were too generous on this machine")
	}
	got, gv := fieldJSON(t, db, v.ID)
	var wf, gf schemas.FieldState
	_ = json.Unmarshal([]byte(want), &wf)
	_ = json.Unmarshal([]byte(got), &gf)
	if gf.Ops != wf.Ops || len(gf.Notes) != len(wf.Notes) || len(gf.Incidents) != len(wf.Incidents) || gf.FactStatus != wf.FactStatus {
		t.Fatalf("after %d cut-off pushes the visit differs from a clean push:\nwant %s\ngot  %s", failures, want, got)
	}
	incidents, _ := db.C("incidents").CountDocuments(context.Background(), map[string]any{"visitId": v.ID})
	if incidents != int64(len(wf.Incidents)) {
		t.Fatalf("%d incidents recorded, want %d", incidents, len(wf.Incidents))
	}
	// The change log has the visit, or the relay puts it there.
	if gv.Version > 1 {
		if _, err := db.RelayDirty(context.Background(), now0.Add(time.Hour), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d pushes cut off before one landed", failures)
}

// TestTwoInstancesSameBatch: two server instances (two engines, each with
// its own change-log lock) receive the same batch at the same moment, as
// when a phone retries through another instance. Every operation is
// applied once.
func TestTwoInstancesSameBatch(t *testing.T) {
	db, v, a := setup(t)
	other := db.Database(db.DB.Name())
	other.SetCipher(storetest.Cipher(t))
	b := batch(v, 30)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			target := db
			if i%2 == 1 {
				target = other
			}
			_, errs[i] = engine(target).Push(context.Background(), a, b)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	_, got := fieldJSON(t, db, v.ID)
	if got.Field.Ops != 30 {
		t.Fatalf("%d operations applied, want 30", got.Field.Ops)
	}
	n, _ := db.C("sync_ops").CountDocuments(context.Background(), map[string]any{"visitId": v.ID})
	if n != 30 {
		t.Fatalf("%d records, want 30", n)
	}
}
