// Command loadgen measures fieldsync's sync path. It starts fieldsync on
// the embedded store (in a temporary folder), gives each simulated phone a
// worker account and a visit, then drives the phones over loopback HTTP:
// every phone pushes its operations in batches, then pulls. In the same
// run it writes the same operation documents straight into the same store
// engine, around the store, in transactions of one push each (the raw
// ceiling), and measures an incremental pull
// before and after the store holds ten times more history.
//
//	go run ./sync/loadgen -devices 200 -ops 50 -batch 25 -conns 16
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"fieldsync/schemas"
	"fieldsync/server/app"
	"fieldsync/server/office"
	"fieldsync/store/doc"
	"fieldsync/store/mongo"
	"fieldsync/store/sqlite"
	fsync "fieldsync/sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

type config struct {
	devices, ops, batch, conns, history int
	profile                             string
}

func main() {
	var c config
	flag.IntVar(&c.devices, "devices", 200, "simulated phones (one worker and one visit each)")
	flag.IntVar(&c.ops, "ops", 50, "operations per phone")
	flag.IntVar(&c.batch, "batch", 25, "operations per push")
	flag.IntVar(&c.conns, "conns", 16, "concurrent HTTP connections")
	flag.IntVar(&c.history, "history", 10, "history multiplier for the pull-cost measurement")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the ingest phase to this file")
	flag.Parse()
	c.profile = *profile
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// setting reads a setting the load generator passes on, by its current
// name or, as the server still does for one release, its old one.
func setting(name string) string {
	if v := os.Getenv(app.EnvPrefix + name); v != "" {
		return v
	}
	return os.Getenv(name)
}

type device struct {
	login, token string
	visit        *schemas.Visit
	ops          []fsync.Op
	cursor       string
}

func run(c config) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "fieldsync-loadgen-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := map[string]string{"PORT": "0", "DATA_DIR": dir, "LOG_LEVEL": "warn", "SLOW_COMMAND": setting("SLOW_COMMAND"), "MONGODB_URI": setting("MONGODB_URI"),
		"MONGODB_DB": "fieldsync_loadgen_" + fmt.Sprint(time.Now().UnixNano()), "ADMIN_LOGIN": "bench.admin",
		"ADMIN_PASSWORD": "bench password 1", "LOGIN_RATE_PER_IP": "100000", "LOGIN_RATE_PER_ACCOUNT": "10000", "GENERATOR_INTERVAL": "24h",
		// It measures the store, not the request budgets.
		"RATE_PUSH_PER_MINUTE": "0", "RATE_WRITE_PER_MINUTE": "0", "RATE_READ_PER_MINUTE": "0", "DRAIN_DELAY": "0"}
	// The settings' current names (FIELDSYNC_...), so none is read as a legacy one.
	cfg, err := app.LoadConfig(func(k string) string {
		if name, ok := strings.CutPrefix(k, app.EnvPrefix); ok {
			return env[name]
		}
		return ""
	})
	if err != nil {
		return err
	}
	logw := io.Discard
	if env["SLOW_COMMAND"] != "" {
		logw = os.Stderr
	}
	srv, err := app.Start(ctx, cfg, slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn})), time.Now)
	if err != nil {
		return err
	}
	defer srv.Shutdown(30 * time.Second)
	base := "http://" + srv.Addr()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.conns, MaxConnsPerHost: c.conns}, Timeout: 60 * time.Second}

	fmt.Printf("setting up %d phones...\n", c.devices)
	devs, err := setup(ctx, srv, c.devices, "dev")
	if err != nil {
		return err
	}
	for _, d := range devs {
		d.ops = makeOps(d.visit, c.ops, 1)
	}
	if err := login(client, base, devs, c.conns); err != nil {
		return err
	}

	// 1. Sync ingest.
	if c.profile != "" {
		f, err := os.Create(c.profile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	lat, elapsed, err := pushAll(client, base, devs, c.batch, c.conns)
	if c.profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	total := c.devices * c.ops
	ingest := float64(total) / elapsed.Seconds()

	// 2. The first pull (snapshot), right after the push.
	// The first pull: every phone at once, each on its own connection.
	pulls := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.devices, MaxConnsPerHost: c.devices}, Timeout: 60 * time.Second}
	pullLat, err := pullAll(pulls, base, devs, c.devices)
	if err != nil {
		return err
	}

	// The storm is over (every phone pushed, then pulled at once): the
	// process's peak so far is the server's through it, and the load
	// generator's few megabytes.
	rss := peakRSS()

	// 3. The raw ceiling: the same documents straight into the same engine,
	// in transactions of one push each, same concurrency.
	rawRate, err := rawCeiling(ctx, filepath.Join(dir, "raw"), env["MONGODB_URI"], devs, c.batch, c.conns)
	if err != nil {
		return err
	}

	// 3b. The ceiling of the new store's engine: the same records, sealed,
	// written by the sync log in batches (one transaction each on SQLite).
	logRate, err := logCeiling(ctx, srv, devs, c.batch, c.conns)
	if err != nil {
		return err
	}

	fmt.Printf("\n== sync ingest: %d phones x %d operations, batches of %d, %d connections ==\n", c.devices, c.ops, c.batch, c.conns)
	fmt.Printf("sync push:        %8.0f ops/s  (%d ops in %s)\n", ingest, total, elapsed.Round(time.Millisecond))
	fmt.Printf("batch latency:    p50 %s  p99 %s\n", pct(lat, 50), pct(lat, 99))
	fmt.Printf("raw engine:       %8.0f ops/s  (same documents, same engine and disk, %d inserts + 1 visit replace per transaction, same concurrency)\n", rawRate, c.batch)
	fmt.Printf("ingest / raw:     %8.2f\n", ingest/rawRate)
	fmt.Printf("sync log batches: %8.0f ops/s  (the same records through the new store's SyncLog.InsertOps, %d a batch, same concurrency)\n", logRate, c.batch)
	fmt.Printf("ingest / log:     %8.2f\n", ingest/logRate)
	fmt.Printf("first pull:       p50 %s  p99 %s  (%d phones at once)\n", pct(pullLat, 50), pct(pullLat, 99), c.devices)
	fmt.Printf("peak RSS:         %s  (through the storm: the server and the load generator, one process)\n", rss)

	// 4. Incremental pull cost as history grows tenfold.
	probe := devs[:20]
	before, err := incrementalPulls(client, base, probe, 40)
	if err != nil {
		return err
	}
	fmt.Printf("\nadding %dx history (%d more phones' worth of operations)...\n", c.history, (c.history-1)*c.devices)
	for round := 1; round < c.history; round++ {
		more, err := setup(ctx, srv, c.devices, fmt.Sprintf("h%d", round))
		if err != nil {
			return err
		}
		for _, d := range more {
			d.ops = makeOps(d.visit, c.ops, 1)
		}
		if err := login(client, base, more, c.conns); err != nil {
			return err
		}
		if _, _, err := pushAll(client, base, more, c.batch, c.conns); err != nil {
			return err
		}
	}
	// Let the server's background passes over the new history (the relay
	// of changed visits, every 5 s) finish, as the first measurement had.
	time.Sleep(6 * time.Second)
	if c.profile != "" {
		f, err := os.Create(c.profile + ".pull")
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	after, err := incrementalPulls(client, base, probe, 40)
	if c.profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	n, err := srv.Store.SyncLog.CountOps(ctx)
	if err != nil {
		return err
	}
	n -= int64(total) // the sync log ceiling's records
	fmt.Printf("incremental pull (1 new change): %d ops stored, then %d\n", total, n)
	for _, p := range []int{50, 99} {
		fmt.Printf("  p%d: %s, then %s: ratio %.2f\n", p, pct(before, p), pct(after, p), float64(pct(after, p))/float64(pct(before, p)))
	}
	return nil
}

// setup creates one worker, account and visit per phone, through the
// services (setup is not what is measured).
func setup(ctx context.Context, srv *app.Server, n int, prefix string) ([]*device, error) {
	sys := office.System
	sts, _, err := srv.Office.ListServiceTypes(ctx, sys, "", 1)
	if err != nil {
		return nil, err
	}
	var st *schemas.ServiceType
	if len(sts) > 0 {
		st = &sts[0]
	} else {
		st, err = srv.Office.CreateServiceType(ctx, sys, schemas.ServiceTypeInput{Code: "bench_cleaning", Name: "保洁", DefaultMinutes: 180, Active: true,
			Checklist: []schemas.ChecklistItem{{ID: "kitchen", Text: "厨房"}, {ID: "floors", Text: "地面"}, {ID: "bathroom", Text: "卫生间"}}})
		if err != nil {
			return nil, err
		}
	}
	cust, err := srv.Office.CreateCustomer(ctx, sys, schemas.CustomerInput{Name: "压测客户", Phone: "+8613900000000", Team: "team-1",
		Addresses: []schemas.Address{{Text: "上海市徐汇区压测路1号", Location: schemas.LatLng{Lat: 31.2, Lng: 121.45}}}})
	if err != nil {
		return nil, err
	}
	start := time.Now().UTC().Truncate(time.Hour).Add(-2 * time.Hour)
	devs := make([]*device, n)
	for i := range devs {
		w, err := srv.Office.CreateWorker(ctx, sys, schemas.WorkerInput{Name: fmt.Sprintf("工人%d", i), Phone: fmt.Sprintf("+86138%08d", i), Gender: schemas.GenderFemale,
			BackgroundCheck: schemas.BackgroundCheck{Status: schemas.CheckPassed}, Team: "team-1",
			WorkingHours: schemas.WorkingHours{Days: []int{0, 1, 2, 3, 4, 5, 6}, Start: "00:00", End: "23:59"}, Home: schemas.LatLng{Lat: 31.2, Lng: 121.45}})
		if err != nil {
			return nil, err
		}
		login := fmt.Sprintf("%s.%d", prefix, i)
		if _, err := srv.Auth.CreateUser(ctx, schemas.NewUser{Login: login, Password: "bench password 1", Name: login, Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1"}); err != nil {
			return nil, err
		}
		vv, err := srv.Office.CreateVisit(ctx, sys, schemas.NewVisit{CustomerID: cust.ID, AddressID: cust.Addresses[0].ID, ServiceTypeID: st.ID, ScheduledStart: start, WorkerID: w.ID})
		if err != nil {
			return nil, err
		}
		v := vv.Visit
		devs[i] = &device{login: login, visit: &v}
	}
	return devs, nil
}

func makeOps(v *schemas.Visit, n int, firstSeq int64) []fsync.Op {
	items := []string{"kitchen", "floors", "bathroom"}
	ops := make([]fsync.Op, n)
	for i := range ops {
		var kind, payload string
		switch {
		case i == 0:
			kind, payload = fsync.KindCheckIn, `{"location":{"lat":31.2001,"lng":121.4501,"accuracyM":8}}`
		case i == n-1:
			kind, payload = fsync.KindCheckOut, `{"location":{"lat":31.2001,"lng":121.4501,"accuracyM":8}}`
		case i%5 == 0:
			kind, payload = fsync.KindNote, fmt.Sprintf(`{"text":"进度记录 %d"}`, i)
		default:
			kind, payload = fsync.KindProgress, fmt.Sprintf(`{"itemId":"%s","done":%v}`, items[i%3], i%2 == 0)
		}
		ops[i] = fsync.Op{Seq: firstSeq + int64(i), OpID: schemas.NewID(), Kind: kind, VisitID: v.ID,
			At: v.ScheduledStart.Add(time.Duration(i) * time.Minute), Payload: json.RawMessage(payload)}
	}
	return ops
}

func login(client *http.Client, base string, devs []*device, conns int) error {
	return parallel(devs, conns, func(d *device) error {
		var out struct {
			AccessToken string `json:"accessToken"`
		}
		if err := call(client, "POST", base+"/v1/auth/login", "", map[string]any{"login": d.login, "password": "bench password 1", "deviceId": d.login + "-phone"}, &out); err != nil {
			return err
		}
		d.token = out.AccessToken
		return nil
	})
}

func pushAll(client *http.Client, base string, devs []*device, batch, conns int) ([]time.Duration, time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	start := time.Now()
	err := parallel(devs, conns, func(d *device) error {
		for i := 0; i < len(d.ops); i += batch {
			b := fsync.Batch{DeviceID: d.login + "-phone", SchemaVersion: 1, DeviceClock: time.Now(), Ops: d.ops[i:min(i+batch, len(d.ops))]}
			t0 := time.Now()
			var resp fsync.PushResponse
			if err := call(client, "POST", base+"/v1/sync/push", d.token, b, &resp); err != nil {
				return err
			}
			el := time.Since(t0)
			for _, r := range resp.Results {
				if r.Status != fsync.StatusApplied && r.Status != fsync.StatusConflict {
					return fmt.Errorf("op %d: %+v", r.Seq, r)
				}
			}
			mu.Lock()
			lat = append(lat, el)
			mu.Unlock()
		}
		return nil
	})
	return lat, time.Since(start), err
}

// rawCeiling is what the same engine takes with nothing of fieldsync
// around it: each push's operation records (the same documents) inserted
// with one visit document replaced at its version, in one Apply (one
// transaction on SQLite), at the same concurrency, into an engine of its
// own on the same disk (or the same MongoDB deployment). It goes around
// the store's boundary on purpose: that is what a ceiling is.
func rawCeiling(ctx context.Context, dir, uri string, devs []*device, batch, conns int) (float64, error) {
	colls := []doc.Collection{{Name: "raw_ops", Indexes: []doc.Index{{Name: "visit", Fields: []string{"visitId", "effAt"}}}}, {Name: "raw_visits"}}
	var e doc.Engine
	if uri == "" {
		db, err := sqlite.Open(ctx, sqlite.Options{Dir: dir, Collections: colls})
		if err != nil {
			return 0, err
		}
		defer db.Close()
		e = db
	} else {
		db, err := mongo.Open(ctx, mongo.Options{URI: uri, Database: "fieldsync_loadgen_raw_" + fmt.Sprint(time.Now().UnixNano()), Collections: colls})
		if err != nil {
			return 0, err
		}
		defer db.Close(context.WithoutCancel(ctx))
		e = db
	}
	now := time.Now().UTC()
	var count atomic.Int64
	start := time.Now()
	err := parallel(devs, conns, func(d *device) error {
		visit := bson.M{"_id": d.visit.ID, "ops": 0}
		version, err := doc.Insert(ctx, e, "raw_visits", visit)
		if err != nil {
			return err
		}
		for i := 0; i < len(d.ops); i += batch {
			var b doc.Batch
			for _, op := range d.ops[i:min(i+batch, len(d.ops))] {
				var p fsync.Payload
				_ = json.Unmarshal(op.Payload, &p)
				b.Insert("raw_ops", fsync.Record{ID: d.login + "/" + fmt.Sprint(op.Seq), UserID: d.login, WorkerID: d.visit.WorkerID, DeviceID: d.login + "-phone",
					Seq: op.Seq, OpID: op.OpID, Kind: op.Kind, VisitID: op.VisitID, DeviceAt: op.At, CorrectedAt: op.At, EffAt: op.At, ReceivedAt: now,
					Payload: p, Status: fsync.StatusApplied})
			}
			n := b.Len()
			visit["ops"] = i + n
			b.Replace("raw_visits", version, visit)
			vs, err := b.Apply(ctx, e)
			if err != nil {
				return err
			}
			version = vs[len(vs)-1]
			count.Add(int64(n))
		}
		return nil
	})
	return float64(count.Load()) / time.Since(start).Seconds(), err
}

// logCeiling writes the sync records of the same operations, under users
// of their own, through the sync log's batch write, into the same store.
func logCeiling(ctx context.Context, srv *app.Server, devs []*device, batch, conns int) (float64, error) {
	now := time.Now().UTC()
	var count atomic.Int64
	start := time.Now()
	err := parallel(devs, conns, func(d *device) error {
		for i := 0; i < len(d.ops); i += batch {
			var recs []*fsync.Record
			for _, op := range d.ops[i:min(i+batch, len(d.ops))] {
				var p fsync.Payload
				_ = json.Unmarshal(op.Payload, &p)
				user := "ceiling-" + d.login
				recs = append(recs, &fsync.Record{ID: user + "/" + d.login + "-phone/" + fmt.Sprint(op.Seq), UserID: user, WorkerID: d.visit.WorkerID,
					DeviceID: d.login + "-phone", Seq: op.Seq, OpID: op.OpID, Kind: op.Kind, VisitID: op.VisitID, DeviceAt: op.At, CorrectedAt: op.At,
					EffAt: op.At, ReceivedAt: now, Payload: p, Status: fsync.StatusApplied})
			}
			if _, err := srv.Store.SyncLog.InsertOps(ctx, recs); err != nil {
				return err
			}
			count.Add(int64(len(recs)))
		}
		return nil
	})
	return float64(count.Load()) / time.Since(start).Seconds(), err
}

func pullAll(client *http.Client, base string, devs []*device, conns int) ([]time.Duration, error) {
	var mu sync.Mutex
	var lat []time.Duration
	err := parallel(devs, conns, func(d *device) error {
		t0 := time.Now()
		var resp fsync.PullResponse
		if err := call(client, "GET", base+"/v1/sync/pull", d.token, nil, &resp); err != nil {
			return err
		}
		if len(resp.Visits) != 1 {
			return fmt.Errorf("%s pulled %d visits, want 1", d.login, len(resp.Visits))
		}
		d.cursor = resp.Cursor
		mu.Lock()
		lat = append(lat, time.Since(t0))
		mu.Unlock()
		return nil
	})
	return lat, err
}

// incrementalPulls times pulls that each find exactly one new change of
// the phone's own (a note it just pushed).
func incrementalPulls(client *http.Client, base string, devs []*device, rounds int) ([]time.Duration, error) {
	var lat []time.Duration
	for r := -1; r < rounds; r++ { // round -1 warms up, untimed
		for _, d := range devs {
			// Catch up first (not timed), so the timed pull finds exactly one change.
			for {
				var resp fsync.PullResponse
				if err := call(client, "GET", base+"/v1/sync/pull?cursor="+d.cursor, d.token, nil, &resp); err != nil {
					return nil, err
				}
				d.cursor = resp.Cursor
				if !resp.HasMore {
					break
				}
			}
			seq := d.ops[len(d.ops)-1].Seq + 1
			op := fsync.Op{Seq: seq, OpID: schemas.NewID(), Kind: fsync.KindNote, VisitID: d.visit.ID, At: time.Now(), Payload: json.RawMessage(`{"text":"probe"}`)}
			d.ops = append(d.ops, op)
			var pr fsync.PushResponse
			if err := call(client, "POST", base+"/v1/sync/push", d.token, fsync.Batch{DeviceID: d.login + "-phone", SchemaVersion: 1, DeviceClock: time.Now(), Ops: []fsync.Op{op}}, &pr); err != nil {
				return nil, err
			}
			t0 := time.Now()
			var resp fsync.PullResponse
			if err := call(client, "GET", base+"/v1/sync/pull?cursor="+d.cursor, d.token, nil, &resp); err != nil {
				return nil, err
			}
			if r >= 0 {
				lat = append(lat, time.Since(t0))
			}
			if resp.Resync || len(resp.Visits) != 1 {
				return nil, fmt.Errorf("incremental pull: resync %v, %d visits", resp.Resync, len(resp.Visits))
			}
			d.cursor = resp.Cursor
		}
	}
	return lat, nil
}

func parallel(devs []*device, conns int, f func(*device) error) error {
	jobs := make(chan *device)
	var wg sync.WaitGroup
	var first atomic.Value
	for range conns {
		wg.Go(func() {
			for d := range jobs {
				if first.Load() != nil {
					continue
				}
				if err := f(d); err != nil {
					first.CompareAndSwap(nil, err)
				}
			}
		})
	}
	for _, d := range devs {
		jobs <- d
	}
	close(jobs)
	wg.Wait()
	if err, ok := first.Load().(error); ok {
		return err
	}
	return nil
}

func call(client *http.Client, method, url, token string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
}

func pct(xs []time.Duration, p int) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, len(s)*p/100)].Round(10 * time.Microsecond)
}

// peakRSS is the process's peak resident set (VmHWM), on Linux.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}
