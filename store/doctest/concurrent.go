package doctest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"fieldsync/store/doc"
)

const writers = 50

// race runs f(0..n-1) at once and returns each one's error.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			start.Wait()
			errs[i] = f(i)
		}()
	}
	start.Done()
	done.Wait()
	return errs
}

// oneWinner checks that exactly one call succeeded and that every other
// failed with want, and returns the winner.
func oneWinner(t *testing.T, errs []error, want error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("two winners: %d and %d", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, want):
			t.Fatalf("writer %d: %v, want %v", i, err, want)
		}
	}
	if winner < 0 {
		t.Fatal("no winner")
	}
	return winner
}

func testOneWinner(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	mustInsert(t, e, item("c"))
	errs := race(writers, func(i int) error {
		it := item("c")
		it.Note = fmt.Sprint(i)
		_, err := doc.Replace(ctx, e, coll, 1, it)
		return err
	})
	w := oneWinner(t, errs, doc.ErrVersion)
	if got, v := mustGet(t, e, "c"); got.Note != fmt.Sprint(w) || v != 2 {
		t.Errorf("stored %q v%d; the winner was %d", got.Note, v, w)
	}
}

func testModifyLosesNothing(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	c := item("counter")
	c.N = 0
	mustInsert(t, e, c)
	errs := race(writers, func(int) error {
		_, _, err := doc.Modify(ctx, e, coll, "counter", func(it *Item) error { it.N++; return nil })
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Fatalf("modify %d: %v", i, err)
		}
	}
	if got, v := mustGet(t, e, "counter"); got.N != writers || v != writers+1 {
		t.Errorf("counter = %d v%d after %d increments", got.N, v, writers)
	}
	stop := errors.New("no change")
	_, _, err := doc.Modify(ctx, e, coll, "counter", func(it *Item) error { return stop })
	wantErr(t, "modify whose change fails", err, stop)
	_, _, err = doc.Modify(ctx, e, coll, "missing", func(it *Item) error { return nil })
	wantErr(t, "modify of a missing document", err, doc.ErrNotFound)
	_, _, err = doc.Modify(ctx, e, coll, "counter", func(it *Item) error { it.ID = "other"; return nil })
	wantErr(t, "modify that changes the id", err, doc.ErrInvalid)
}

func testConcurrentInsertSameID(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	errs := race(writers, func(i int) error {
		it := item("same")
		it.Login = fmt.Sprint("login-", i)
		_, err := doc.Insert(ctx, e, coll, it)
		return err
	})
	w := oneWinner(t, errs, doc.ErrDuplicate)
	if got, _ := mustGet(t, e, "same"); got.Login != fmt.Sprint("login-", w) {
		t.Errorf("stored %s; the winner was %d", got.Login, w)
	}
}

func testConcurrentUniqueKey(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	errs := race(writers, func(i int) error {
		it := item(fmt.Sprint("u", i))
		it.Login = "taken"
		_, err := doc.Insert(ctx, e, coll, it)
		return err
	})
	w := oneWinner(t, errs, doc.ErrDuplicate)
	if ids := scanAll(t, e, doc.Query{Index: "login", Eq: []any{"taken"}, Limit: 10}); !slices.Equal(ids, []string{fmt.Sprint("u", w)}) {
		t.Errorf("holders of the key: %v; the winner was u%d", ids, w)
	}
}

func testConcurrentUniqueReplace(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	for i := range writers {
		mustInsert(t, e, item(fmt.Sprint("r", i)))
	}
	errs := race(writers, func(i int) error {
		it := item(fmt.Sprint("r", i))
		it.Login = "taken"
		_, err := doc.Replace(ctx, e, coll, 1, it)
		return err
	})
	w := oneWinner(t, errs, doc.ErrDuplicate)
	if ids := scanAll(t, e, doc.Query{Index: "login", Eq: []any{"taken"}, Limit: 10}); !slices.Equal(ids, []string{fmt.Sprint("r", w)}) {
		t.Errorf("holders of the key: %v; the winner was r%d", ids, w)
	}
}

// testCursorWhileInserting pages through an index while documents are
// inserted between and around the pages' keys: every document there from
// the start is read exactly once, in order, and nothing twice.
func testCursorWhileInserting(t *testing.T, e doc.Engine, _ Config) {
	ctx := ctx(t)
	const n = 60
	var b doc.Batch
	for i := range n {
		it := item(fmt.Sprintf("p%04d", 2*i))
		it.Owner, it.At = "p", at(int64(2*i))
		b.Insert(coll, it)
	}
	if _, err := b.Apply(ctx, e); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	inserted := make(chan error, 1)
	go func() {
		for i := 0; i < 2*n; i++ {
			select {
			case <-done:
				inserted <- nil
				return
			default:
			}
			// Odd times land between the original ones; wrap around so
			// they fall before and after the cursor.
			k := (i * 37) % n
			it := item(fmt.Sprintf("p%04d-%d", 2*k+1, i))
			it.Owner, it.At = "p", at(int64(2*k+1))
			if _, err := doc.Insert(ctx, e, coll, it); err != nil {
				inserted <- err
				return
			}
		}
		<-done
		inserted <- nil
	}()
	q := doc.Query{Index: "owner_at", Eq: []any{"p"}, Limit: 4}
	var got []Item
	for {
		p, err := e.Scan(ctx, coll, q)
		if err != nil {
			t.Fatal(err)
		}
		items, err := doc.DecodeAll[Item](p.Docs)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, items...)
		if p.Next == "" {
			break
		}
		q.After = p.Next
	}
	close(done)
	if err := <-inserted; err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for i, it := range got {
		if seen[it.ID] {
			t.Fatalf("%s read twice", it.ID)
		}
		seen[it.ID] = true
		if i > 0 {
			prev := got[i-1]
			if c := prev.At.Compare(it.At); c > 0 || c == 0 && prev.ID >= it.ID {
				t.Fatalf("out of order: %s (%v) before %s (%v)", prev.ID, prev.At, it.ID, it.At)
			}
		}
	}
	for i := range n {
		if id := fmt.Sprintf("p%04d", 2*i); !seen[id] {
			t.Fatalf("%s was skipped", id)
		}
	}
	t.Logf("read %d documents, %d of them inserted during the scan", len(got), len(got)-n)
}
