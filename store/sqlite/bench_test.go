package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/store/doc"
	"fieldsync/store/sqlite"
)

// The ingest of the sync path, as issue 12 measures its ceiling: batches
// of 25 operation records (~300 bytes of BSON each) plus one write of the
// visit they change, one transaction each, from 16 concurrent writers.
const (
	batchOps = 25
	writersN = 16
)

// opRecord is shaped like sync.Record, the operation as the server
// records it.
type opRecord struct {
	ID          string    `bson:"_id"`
	UserID      string    `bson:"userId"`
	WorkerID    string    `bson:"workerId"`
	DeviceID    string    `bson:"deviceId"`
	Seq         int64     `bson:"seq"`
	OpID        string    `bson:"opId"`
	Kind        string    `bson:"kind"`
	VisitID     string    `bson:"visitId"`
	DeviceAt    time.Time `bson:"deviceAt"`
	CorrectedAt time.Time `bson:"correctedAt"`
	EffAt       time.Time `bson:"effAt"`
	ReceivedAt  time.Time `bson:"receivedAt"`
	SkewMs      int64     `bson:"skewMs"`
	Payload     struct {
		ItemID string `bson:"itemId"`
		Done   bool   `bson:"done"`
		Text   string `bson:"text"`
	} `bson:"payload"`
	Status string `bson:"status"`
}

// visitDoc stands for the visit a batch folds its operations into.
type visitDoc struct {
	ID         string    `bson:"_id"`
	WorkerID   string    `bson:"workerId"`
	Start      time.Time `bson:"scheduledStart"`
	Status     string    `bson:"status"`
	LastSeq    int64     `bson:"lastSeq"`
	Address    string    `bson:"address"`
	Checklist  []string  `bson:"checklist"`
	OpIDs      []string  `bson:"opIds"`
	UpdatedAt  time.Time `bson:"updatedAt"`
	FieldState bson.D    `bson:"field"`
}

var benchColls = []doc.Collection{
	{Name: "sync_ops", Indexes: []doc.Index{{Name: "visit_eff", Fields: []string{"visitId", "effAt"}}}},
	{Name: "visits", Indexes: []doc.Index{{Name: "worker_start", Fields: []string{"workerId", "scheduledStart"}}}},
}

var base = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func record(w int, seq int64) opRecord {
	r := opRecord{ID: fmt.Sprintf("worker%02d/phone/%d", w, seq), UserID: fmt.Sprintf("worker%02d", w), WorkerID: fmt.Sprintf("wk%02d", w),
		DeviceID: "phone", Seq: seq, OpID: fmt.Sprintf("op-%02d-%08d", w, seq), Kind: "progress", VisitID: fmt.Sprintf("visit%02d", w),
		DeviceAt: base.Add(time.Duration(seq) * time.Second), SkewMs: 120, Status: "applied"}
	r.CorrectedAt, r.EffAt, r.ReceivedAt = r.DeviceAt, r.DeviceAt, r.DeviceAt.Add(time.Minute)
	r.Payload.ItemID, r.Payload.Done, r.Payload.Text = "item-3", true, "wiped the kitchen counters"
	return r
}

func visit(w int, seq int64) visitDoc {
	return visitDoc{ID: fmt.Sprintf("visit%02d", w), WorkerID: fmt.Sprintf("wk%02d", w), Start: base, Status: "checked_in", LastSeq: seq,
		Address: "88 Huaihai Zhong Road, Huangpu, Shanghai", Checklist: []string{"kitchen", "bathroom", "floors", "windows", "laundry", "bins"},
		OpIDs: []string{"op-1", "op-2", "op-3"}, UpdatedAt: base.Add(time.Duration(seq) * time.Second),
		FieldState: bson.D{{Key: "checkedInAt", Value: base}, {Key: "done", Value: bson.A{"item-1", "item-2", "item-3"}}}}
}

// ingest runs txs transactions over writersN writers, each writer w
// calling tx(w, n) for its n-th transaction, and returns records/s.
func ingest(tb testing.TB, txs int, tx func(w, n int) error) float64 {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writersN)
	start := time.Now()
	for w := range writersN {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				if next.Add(1) > int64(txs) {
					return
				}
				if err := tx(w, n); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		tb.Fatal(err)
	}
	return float64(txs*batchOps) / elapsed.Seconds()
}

// rawIngest is the ceiling: SQLite used directly, through the same
// driver and settings (WAL, synchronous=FULL, one writer connection), the
// records encoded in the loop. Bare, it has the least a document store
// needs: (id, BSON) tables, an insert per record and an upsert of the
// visit. Indexed, it has the engine's schema (the records' index on
// (visitId, effAt), key columns, a versioned visit), written by hand.
func rawIngest(tb testing.TB, dir string, indexed bool) func(w, n int) error {
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "raw.db")+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	schema := []string{
		`CREATE TABLE sync_ops (id TEXT PRIMARY KEY, doc BLOB NOT NULL)`,
		`CREATE TABLE visits (id TEXT PRIMARY KEY, doc BLOB NOT NULL)`,
	}
	insert := `INSERT INTO sync_ops (id, doc) VALUES (?, ?)`
	upsert := `INSERT INTO visits (id, doc) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET doc = excluded.doc`
	if indexed {
		schema = []string{
			`CREATE TABLE sync_ops (id TEXT PRIMARY KEY, v INTEGER NOT NULL, doc BLOB NOT NULL, visit_id, eff_at)`,
			`CREATE INDEX sync_ops_visit_eff ON sync_ops (visit_id, eff_at, id)`,
			`CREATE TABLE visits (id TEXT PRIMARY KEY, v INTEGER NOT NULL, doc BLOB NOT NULL, worker_id, start)`,
			`CREATE INDEX visits_worker_start ON visits (worker_id, start, id)`,
		}
		insert = `INSERT INTO sync_ops (id, v, doc, visit_id, eff_at) VALUES (?, 1, ?, ?, ?)`
		upsert = `UPDATE visits SET v = v + 1, doc = ?, worker_id = ?, start = ? WHERE id = ? AND v = ?`
	}
	for _, s := range schema {
		if _, err := db.Exec(s); err != nil {
			tb.Fatal(err)
		}
	}
	ins, err := db.Prepare(insert)
	if err != nil {
		tb.Fatal(err)
	}
	up, err := db.Prepare(upsert)
	if err != nil {
		tb.Fatal(err)
	}
	versions := make([]int64, writersN)
	for w := range writersN {
		v := visit(w, 0)
		raw, _ := bson.Marshal(v)
		if indexed {
			_, err = db.Exec(`INSERT INTO visits (id, v, doc, worker_id, start) VALUES (?, 1, ?, ?, ?)`, v.ID, raw, v.WorkerID, v.Start.UnixMilli())
		} else {
			_, err = db.Exec(`INSERT INTO visits (id, doc) VALUES (?, ?)`, v.ID, raw)
		}
		if err != nil {
			tb.Fatal(err)
		}
		versions[w] = 1
	}
	return func(w, n int) error {
		ctx := context.Background()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		seq := int64(n)*batchOps + rand.Int64N(1<<40)*1000 // fresh ids in every round
		for i := range int64(batchOps) {
			r := record(w, seq+i)
			raw, err := bson.Marshal(r)
			if err != nil {
				return err
			}
			args := []any{r.ID, raw}
			if indexed {
				args = append(args, r.VisitID, r.EffAt.UnixMilli())
			}
			if _, err := tx.Stmt(ins).Exec(args...); err != nil {
				return err
			}
		}
		v := visit(w, seq)
		raw, err := bson.Marshal(v)
		if err != nil {
			return err
		}
		args := []any{v.ID, raw}
		if indexed {
			args = []any{raw, v.WorkerID, v.Start.UnixMilli(), v.ID, versions[w]}
		}
		res, err := tx.Stmt(up).Exec(args...)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return fmt.Errorf("visit write: %d rows, %v", n, err)
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		versions[w]++
		return nil
	}
}

// engineIngest is the same through doc.Engine: a doc.Batch of 25 inserts
// and a conditional replace of the visit, on indexed collections.
func engineIngest(tb testing.TB, dir string) func(w, n int) error {
	db, err := sqlite.Open(context.Background(), sqlite.Options{Dir: dir, Collections: benchColls, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	versions := make([]int64, writersN)
	for w := range writersN {
		if versions[w], err = doc.Insert(context.Background(), db, "visits", visit(w, 0)); err != nil {
			tb.Fatal(err)
		}
	}
	return func(w, n int) error {
		seq := int64(n)*batchOps + rand.Int64N(1<<40)*1000
		var b doc.Batch
		for i := range int64(batchOps) {
			b.Insert("sync_ops", record(w, seq+i))
		}
		b.Replace("visits", versions[w], visit(w, seq))
		vs, err := b.Apply(context.Background(), db)
		if err != nil {
			return err
		}
		versions[w] = vs[batchOps]
		return nil
	}
}

// BenchmarkIngest measures, in one run, the raw ceilings and the engine
// on the same documents and disk, in alternating rounds so that the
// machine's load weighs on each alike, and reports the rates and ratios:
//
//	go test ./store/sqlite -run '^$' -bench Ingest -benchtime 3x
func BenchmarkIngest(b *testing.B) {
	const rounds, txs = 4, 100 // 2,500 records a round
	ways := []struct {
		name string
		tx   func(w, n int) error
		rate float64
	}{
		{name: "raw", tx: rawIngest(b, b.TempDir(), false)},
		{name: "raw-indexed", tx: rawIngest(b, b.TempDir(), true)},
		{name: "engine", tx: engineIngest(b, b.TempDir())},
	}
	b.ResetTimer()
	for range b.N {
		for range rounds {
			for i := range ways {
				ways[i].rate += ingest(b, txs, ways[i].tx) / float64(rounds*b.N)
			}
		}
	}
	b.ReportMetric(0, "ns/op")
	for _, w := range ways {
		b.ReportMetric(w.rate, w.name+"-ops/s")
	}
	b.ReportMetric(ways[2].rate/ways[0].rate, "engine/raw")
	b.ReportMetric(ways[2].rate/ways[1].rate, "engine/raw-indexed")
}

// records is a store of 100,000 records, filled once per test binary
// (a benchmark function runs several times) and removed by TestMain.
var records struct {
	once sync.Once
	dir  string
	db   *sqlite.DB
	err  error
}

const recordsN = 100_000

func recordStore(b *testing.B) *sqlite.DB {
	records.once.Do(func() {
		if records.dir, records.err = os.MkdirTemp("", "fieldsync-bench-"); records.err != nil {
			return
		}
		ctx := context.Background()
		records.db, records.err = sqlite.Open(ctx, sqlite.Options{Dir: records.dir, Collections: benchColls, Logger: slog.New(slog.DiscardHandler)})
		for i := 0; i < recordsN && records.err == nil; i += 500 {
			var batch doc.Batch
			for j := i; j < i+500; j++ {
				batch.Insert("sync_ops", record(j%writersN, int64(j)))
			}
			_, records.err = batch.Apply(ctx, records.db)
		}
	})
	if records.err != nil {
		b.Fatal(records.err)
	}
	return records.db
}

func TestMain(m *testing.M) {
	code := m.Run()
	if records.db != nil {
		records.db.Close()
	}
	if records.dir != "" {
		os.RemoveAll(records.dir)
	}
	os.Exit(code)
}

// BenchmarkGet reads one record by id, from concurrent readers, among
// 100,000.
func BenchmarkGet(b *testing.B) {
	db := recordStore(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			j := rand.IntN(recordsN)
			var r opRecord
			d, err := db.Get(context.Background(), "sync_ops", record(j%writersN, int64(j)).ID)
			if err == nil {
				err = d.Decode(&r)
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "gets/s")
}

// BenchmarkScan reads pages of 50 of one visit's records (6,250) in
// effective time order (a secondary index), following the cursor, among
// 100,000 records.
func BenchmarkScan(b *testing.B) {
	db := recordStore(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		q := doc.Query{Index: "visit_eff", Eq: []any{"visit03"}, Limit: 50}
		for pb.Next() {
			p, err := db.Scan(context.Background(), "sync_ops", q)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := doc.DecodeAll[opRecord](p.Docs); err != nil {
				b.Fatal(err)
			}
			if len(p.Docs) != 50 && p.Next != "" {
				b.Fatalf("page of %d", len(p.Docs))
			}
			q.After = p.Next // "" at the end: start over
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
}
