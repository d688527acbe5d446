package sqlite_test

import (
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"fieldsync/store/doc"
	"fieldsync/store/doctest"
	"fieldsync/store/sqlite"
)

func items(n int) []doctest.Item {
	out := make([]doctest.Item, n)
	for i := range out {
		out[i] = doctest.Item{ID: fmt.Sprintf("i%05d", i), Owner: fmt.Sprint("owner-", i%7), Login: fmt.Sprint("login-", i),
			N: int64(i), Meta: doctest.Meta{Kind: "k"}, Note: strings.Repeat("x", 200)}
	}
	return out
}

func fill(tb testing.TB, e doc.Engine, its []doctest.Item) {
	tb.Helper()
	for i := 0; i < len(its); i += 100 {
		var b doc.Batch
		for _, it := range its[i:min(i+100, len(its))] {
			b.Insert("items", it)
		}
		if _, err := b.Apply(testCtx(tb), e); err != nil {
			tb.Fatal(err)
		}
	}
}

func TestReopenKeepsDocuments(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, doctest.Items)
	fill(t, db, items(50))
	if _, err := doc.Replace(testCtx(t), db, "items", 1, items(1)[0]); err != nil {
		t.Fatal(err)
	}
	db.Close()
	db = openDir(t, dir, doctest.Items)
	if _, v, err := doc.Get[doctest.Item](testCtx(t), db, "items", "i00000"); err != nil || v != 2 {
		t.Fatalf("after reopen: v%d, %v", v, err)
	}
	if docs, err := db.GetMany(testCtx(t), "items", []string{"i00049"}); err != nil || len(docs) != 1 {
		t.Fatalf("after reopen: %v, %v", docs, err)
	}
}

func TestRefusesFerretDBDataDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "ferretdb"), 0o700); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(testCtx(t), sqlite.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "old format") || !strings.Contains(err.Error(), "ferretdb") {
		t.Fatalf("open of a FerretDB-era data dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a store file was created beside the old one: %v", err)
	}
}

func TestRefusesForeignFiles(t *testing.T) {
	t.Run("another program's database", func(t *testing.T) {
		dir := t.TempDir()
		raw, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`CREATE TABLE t (x)`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		_, err = sqlite.Open(testCtx(t), sqlite.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "not a fieldsync store") {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("a newer format", func(t *testing.T) {
		dir := t.TempDir()
		openDir(t, dir).Close()
		raw, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(`PRAGMA user_version = 99`); err != nil {
			t.Fatal(err)
		}
		raw.Close()
		_, err = sqlite.Open(testCtx(t), sqlite.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "newer fieldsync") {
			t.Fatalf("open: %v", err)
		}
	})
	t.Run("not a database", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, sqlite.FileName), []byte(strings.Repeat("not sqlite ", 1000)), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := sqlite.Open(testCtx(t), sqlite.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), sqlite.FileName) {
			t.Fatalf("open: %v", err)
		}
	})
}

// scribble writes 16 KiB of random bytes into the middle of the file.
func scribble(tb testing.TB, path string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	junk := make([]byte, 16<<10)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range junk {
		junk[i] = byte(r.Uint32())
	}
	if _, err := f.WriteAt(junk, st.Size()/2); err != nil {
		tb.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		tb.Fatal(err)
	}
}

func TestRefusesDamagedFile(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, doctest.Items)
	fill(t, db, items(3000))
	db.Close()
	scribble(t, filepath.Join(dir, sqlite.FileName))
	_, err := sqlite.Open(testCtx(t), sqlite.Options{Dir: dir, Collections: []doc.Collection{doctest.Items}, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("open of a damaged file: %v", err)
	}
	t.Log(err)
}

// TestHealthReflectsDamage: a page damaged while the store runs fails
// the reads that meet it, and from then on Health.
func TestHealthReflectsDamage(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, doctest.Items)
	fill(t, db, items(3000))
	db.Close()
	db = openDir(t, dir, doctest.Items)
	ctx := testCtx(t)
	if err := db.Health(ctx); err != nil {
		t.Fatalf("health of a sound store: %v", err)
	}
	scribble(t, db.Path())
	var readErr error
	q := doc.Query{Index: "owner_id", Eq: []any{"owner-3"}, Limit: 100}
	for readErr == nil {
		p, err := db.Scan(ctx, "items", q)
		if readErr = err; err != nil || p.Next == "" {
			break
		}
		q.After = p.Next
	}
	if readErr == nil {
		t.Fatal("every read of a damaged file succeeded")
	}
	if err := db.Health(ctx); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Fatalf("health after a read met damage: %v (read: %v)", err, readErr)
	}
}

func TestBackup(t *testing.T) {
	dir := t.TempDir()
	db := openDir(t, dir, doctest.Items)
	all := items(500)
	fill(t, db, all[:400])
	ctx := testCtx(t)
	// Writes go on while the backup runs: it is online.
	var wg sync.WaitGroup
	wg.Add(1)
	var fillErr error
	go func() {
		defer wg.Done()
		for i := 400; i < len(all) && fillErr == nil; i += 100 {
			var b doc.Batch
			for _, it := range all[i : i+100] {
				b.Insert("items", it)
			}
			_, fillErr = b.Apply(ctx, db)
		}
	}()
	backupDir := t.TempDir()
	to := filepath.Join(backupDir, sqlite.FileName)
	if err := db.Backup(ctx, to); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if fillErr != nil {
		t.Fatal(fillErr)
	}
	if err := db.Backup(ctx, to); err == nil {
		t.Error("a backup overwrote an existing file")
	}
	if _, err := os.Stat(to + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a partial file is left: %v", err)
	}
	restored := openDir(t, backupDir, doctest.Items)
	n := 0
	q := doc.Query{Index: "login", Limit: 1000}
	p, err := restored.Scan(ctx, "items", q)
	if err != nil {
		t.Fatal(err)
	}
	n = len(p.Docs)
	if n < 400 || n > 500 || n%100 != 0 {
		t.Errorf("the backup holds %d documents; want the 400 written before it and whole batches after", n)
	}
	if got, v, err := doc.Get[doctest.Item](ctx, restored, "items", "i00123"); err != nil || got != all[123] || v != 1 {
		t.Errorf("restored i00123 = %+v v%d, %v", got, v, err)
	}
}

func TestDeclarationChanges(t *testing.T) {
	dir := t.TempDir()
	base := doc.Collection{Name: "items", Indexes: []doc.Index{{Name: "owner", Fields: []string{"owner"}}}}
	db := openDir(t, dir, base)
	fill(t, db, items(250))
	db.Close()
	reopen := func(c doc.Collection) (*sqlite.DB, error) {
		db, err := sqlite.Open(testCtx(t), sqlite.Options{Dir: dir, Collections: []doc.Collection{c}, Logger: slog.New(slog.DiscardHandler)})
		if err == nil {
			t.Cleanup(func() { db.Close() })
		}
		return db, err
	}
	ctx := testCtx(t)

	// A new index is filled from the documents already stored.
	withN := base
	withN.Indexes = append(withN.Indexes[:1:1], doc.Index{Name: "n", Fields: []string{"n"}})
	db, err := reopen(withN)
	if err != nil {
		t.Fatal(err)
	}
	p, err := db.Scan(ctx, "items", doc.Query{Index: "n", Range: doc.Range{Gte: 240}, Limit: 100})
	if err != nil || len(p.Docs) != 10 || p.Docs[0].ID != "i00240" {
		t.Fatalf("scan of the new index: %d docs, %v", len(p.Docs), err)
	}
	db.Close()

	// An index on a field some documents lack stops the start, naming one.
	lacking := base
	lacking.Indexes = append(lacking.Indexes[:1:1], doc.Index{Name: "x", Fields: []string{"missing"}})
	if _, err := reopen(lacking); !errors.Is(err, doc.ErrInvalid) || !strings.Contains(err.Error(), "i00000") {
		t.Fatalf("index on a field the documents lack: %v", err)
	}
	// A unique index the documents break stops it too.
	unique := base
	unique.Indexes = append(unique.Indexes[:1:1], doc.Index{Name: "owner_unique", Fields: []string{"owner"}, Unique: true})
	if _, err := reopen(unique); !errors.Is(err, doc.ErrDuplicate) {
		t.Fatalf("unique index the documents break: %v", err)
	}

	// Indexes no longer declared are dropped with their columns.
	db, err = reopen(doc.Collection{Name: "items"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Scan(ctx, "items", doc.Query{Index: "n", Limit: 1}); !errors.Is(err, doc.ErrInvalid) {
		t.Errorf("scan of a dropped index: %v", err)
	}
	db.Close()
	raw, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var indexes, columns int
	if err := raw.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL`).Scan(&indexes); err != nil {
		t.Fatal(err)
	}
	if err := raw.QueryRow(`SELECT count(*) FROM pragma_table_info('items')`).Scan(&columns); err != nil {
		t.Fatal(err)
	}
	if indexes != 0 || columns != 3 {
		t.Errorf("after dropping every index: %d indexes, %d columns; want 0 and 3 (id, v, doc)", indexes, columns)
	}
	// And the documents are all there.
	db, err = reopen(withN)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := db.Scan(ctx, "items", doc.Query{Index: "owner", Eq: []any{"owner-0"}, Limit: 100}); err != nil || len(p.Docs) != 36 {
		t.Errorf("scan after re-declaring: %d docs, %v", len(p.Docs), err)
	}
}
