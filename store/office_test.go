package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"fieldsync/schemas"
)

func testWorker(id, team string, status schemas.WorkerStatus, skills ...schemas.Skill) *schemas.Worker {
	if skills == nil {
		skills = []schemas.Skill{}
	}
	return &schemas.Worker{ID: id, CreatedAt: epoch, UpdatedAt: epoch, WorkerInput: schemas.WorkerInput{
		Name: "张桂兰", Phone: "+8613800000000", Team: team, Status: status, Skills: skills, DaysOff: []string{}}}
}

func testCustomer(id, team, phone string) *schemas.Customer {
	return &schemas.Customer{ID: id, CreatedAt: epoch, UpdatedAt: epoch, CustomerInput: schemas.CustomerInput{
		Name: "林先生", Phone: phone, Team: team, TimeZone: schemas.DefaultTimeZone,
		Addresses: []schemas.Address{{ID: id[:8] + "-addr", Text: "示范路1号", Location: schemas.LatLng{Lat: 31.228611, Lng: 121.474722}, AccessNotes: "门禁4321"}},
		Household: schemas.Household{Elderly: true, Pets: []string{"金毛犬"}, Allergies: []string{"青霉素"}, Taboos: []string{}}}}
}

func testServiceType(id, code string, active bool) *schemas.ServiceType {
	return &schemas.ServiceType{ID: id, CreatedAt: epoch, UpdatedAt: epoch, ServiceTypeInput: schemas.ServiceTypeInput{
		Code: code, Name: "保洁", DefaultMinutes: 120, Active: active}}
}

func testSchedule(id, customerID, endsOn string) *schemas.Schedule {
	return &schemas.Schedule{ID: id, TimeZone: schemas.DefaultTimeZone, CreatedAt: epoch, UpdatedAt: epoch, ScheduleInput: schemas.ScheduleInput{
		CustomerID: customerID, AddressID: schemas.NewIDAt(epoch), ServiceTypeID: schemas.NewIDAt(epoch),
		Weekdays: []int{2}, StartTime: "09:00", EndTime: "12:00", StartsOn: "2037-12-01", EndsOn: endsOn}}
}

// TestOfficeRecordsCRUD: each record type is stored at version 1, read
// back, replaced only at the version read, and a second insert of an id
// is ErrDuplicate.
func TestOfficeRecordsCRUD(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	type rec struct {
		insert  func(id string) error
		get     func(id string) (int64, error)
		replace func(id string, version int64) (int64, error)
	}
	cases := map[string]rec{
		"worker": {
			insert: func(id string) error {
				return s.Office.InsertWorker(ctx, testWorker(id, "team-1", schemas.WorkerActive))
			},
			get: func(id string) (int64, error) {
				w, err := s.Office.Worker(ctx, id)
				if err != nil {
					return 0, err
				}
				if w.Name != "张桂兰" || w.Status != schemas.WorkerActive {
					return 0, fmt.Errorf("read back %+v", w)
				}
				return w.Version, nil
			},
			replace: func(id string, version int64) (int64, error) {
				w := testWorker(id, "team-2", schemas.WorkerActive)
				err := s.Office.ReplaceWorker(ctx, w, version)
				return w.Version, err
			},
		},
		"customer": {
			insert: func(id string) error {
				return s.Office.InsertCustomer(ctx, testCustomer(id, "team-1", "+8613900000001"))
			},
			get: func(id string) (int64, error) {
				got, err := s.Office.Customer(ctx, id)
				if err != nil {
					return 0, err
				}
				want := testCustomer(id, "team-1", "+8613900000001")
				if fmt.Sprint(got.CustomerInput) != fmt.Sprint(want.CustomerInput) {
					return 0, fmt.Errorf("read back %+v, want %+v", got.CustomerInput, want.CustomerInput)
				}
				return got.Version, nil
			},
			replace: func(id string, version int64) (int64, error) {
				cu := testCustomer(id, "team-1", "+8613900000001")
				err := s.Office.ReplaceCustomer(ctx, cu, version)
				return cu.Version, err
			},
		},
		"service type": {
			insert: func(id string) error { return s.Office.InsertServiceType(ctx, testServiceType(id, "cleaning", true)) },
			get: func(id string) (int64, error) {
				st, err := s.Office.ServiceType(ctx, id)
				if err != nil {
					return 0, err
				}
				return st.Version, nil
			},
			replace: func(id string, version int64) (int64, error) {
				st := testServiceType(id, "cleaning", false)
				err := s.Office.ReplaceServiceType(ctx, st, version)
				return st.Version, err
			},
		},
		"schedule": {
			insert: func(id string) error { return s.Schedules.Insert(ctx, testSchedule(id, "c", "")) },
			get: func(id string) (int64, error) {
				sch, err := s.Schedules.Get(ctx, id)
				if err != nil {
					return 0, err
				}
				return sch.Version, nil
			},
			replace: func(id string, version int64) (int64, error) {
				sch := testSchedule(id, "c", "2038-01-01")
				err := s.Schedules.Replace(ctx, sch, version)
				return sch.Version, err
			},
		},
	}
	for name, r := range cases {
		t.Run(name, func(t *testing.T) {
			c.advance(time.Second)
			id := schemas.NewIDAt(c.now())
			if _, err := r.get(id); !errors.Is(err, ErrNotFound) {
				t.Fatalf("get before insert: %v, want ErrNotFound", err)
			}
			if err := r.insert(id); err != nil {
				t.Fatal(err)
			}
			if err := r.insert(id); !errors.Is(err, ErrDuplicate) {
				t.Fatalf("second insert: %v, want ErrDuplicate", err)
			}
			if v, err := r.get(id); err != nil || v != 1 {
				t.Fatalf("get = version %d, %v; want 1", v, err)
			}
			if v, err := r.replace(id, 1); err != nil || v != 2 {
				t.Fatalf("replace at 1 = version %d, %v; want 2", v, err)
			}
			if _, err := r.replace(id, 1); !errors.Is(err, ErrVersion) {
				t.Fatalf("replace at a stale version: %v, want ErrVersion", err)
			}
			if _, err := r.replace(schemas.NewIDAt(c.now()), 1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("replace of a missing record: %v, want ErrNotFound", err)
			}
			if v, _ := r.get(id); v != 2 {
				t.Fatalf("version %d after one replace", v)
			}
		})
	}
}

// TestServiceCodesAreUnique: two entries cannot share a code, by insert
// or by replace, and the catalog's stamp is its newest change.
func TestServiceCodesAreUnique(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	if at, err := s.Office.CatalogStamp(ctx); err != nil || !at.IsZero() {
		t.Fatalf("stamp of an empty catalog: %v, %v", at, err)
	}
	a := testServiceType(schemas.NewIDAt(c.now()), "cleaning", true)
	b := testServiceType(schemas.NewIDAt(c.now()), "cooking", false)
	for _, st := range []*schemas.ServiceType{a, b} {
		if err := s.Office.InsertServiceType(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Office.InsertServiceType(ctx, testServiceType(schemas.NewIDAt(c.now()), "cleaning", true)); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("insert of a taken code: %v, want ErrDuplicate", err)
	}
	taken := *b
	taken.Code = "cleaning"
	if err := s.Office.ReplaceServiceType(ctx, &taken, 1); !errors.Is(err, ErrDuplicate) {
		t.Fatalf("replace with a taken code: %v, want ErrDuplicate", err)
	}
	c.advance(time.Hour)
	a.UpdatedAt = c.now().UTC()
	if err := s.Office.ReplaceServiceType(ctx, a, 1); err != nil {
		t.Fatal(err)
	}
	if at, err := s.Office.CatalogStamp(ctx); err != nil || !at.Equal(a.UpdatedAt) {
		t.Fatalf("stamp = %v, %v; want %v", at, err, a.UpdatedAt)
	}
	cat, err := s.Office.Catalog(ctx)
	if err != nil || len(cat) != 1 || cat[0].ID != a.ID || cat[0].Version != 2 {
		t.Fatalf("catalog = %+v, %v; want the one active entry at version 2", cat, err)
	}
}

// TestWorkerWritersRace: of writers replacing one worker at the version
// they read, exactly one wins; writers modifying it all land.
func TestWorkerWritersRace(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	id := schemas.NewIDAt(c.now())
	if err := s.Office.InsertWorker(ctx, testWorker(id, "team-1", schemas.WorkerActive)); err != nil {
		t.Fatal(err)
	}
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			w := testWorker(id, fmt.Sprintf("team-%d", i), schemas.WorkerActive)
			errs[i] = s.Office.ReplaceWorker(ctx, w, 1)
		})
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, ErrVersion):
			t.Fatalf("a losing writer got %v, want ErrVersion", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d writers won at version 1, want 1", won)
	}

	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.Office.ModifyWorker(ctx, id, func(w *schemas.Worker) error {
				w.DaysOff = append(w.DaysOff, fmt.Sprintf("2038-01-%02d", i+1))
				return nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	w, err := s.Office.Worker(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.DaysOff) != n || w.Version != 2+n {
		t.Fatalf("after %d concurrent changes: %d days off, version %d; want %d, %d", n, len(w.DaysOff), w.Version, n, 2+n)
	}
}

// TestCustomersSealedAndFoundByPhone: nothing personal is at rest in
// clear, and the phone is found by its keyed hash, also after the data
// key is rotated.
func TestCustomersSealedAndFoundByPhone(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	cu := testCustomer(schemas.NewIDAt(c.now()), "team-1", "+8613911112222")
	other := testCustomer(schemas.NewIDAt(c.now()), "team-1", "+8613933334444")
	for _, x := range []*schemas.Customer{cu, other} {
		if err := s.Office.InsertCustomer(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	err := s.Each(ctx, func(coll string, d bson.Raw) error {
		if coll != colCustomers {
			return nil
		}
		for _, secret := range []string{"13911112222", "13933334444", "示范路", "4321", "金毛犬", "青霉素", "elderly", "31.22", "121.47"} {
			if strings.Contains(d.String(), secret) {
				t.Errorf("customer at rest holds %q in clear: %s", secret, d)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	find := func(phone string) []string {
		t.Helper()
		cs, next, err := s.Office.Customers(ctx, CustomerFilter{Phone: phone, Limit: 10})
		if err != nil || next != "" {
			t.Fatalf("by phone: %v, next %q", err, next)
		}
		var ids []string
		for _, x := range cs {
			ids = append(ids, x.ID)
		}
		return ids
	}
	if got := find("+8613911112222"); !slices.Equal(got, []string{cu.ID}) {
		t.Fatalf("by phone: %v, want %v", got, cu.ID)
	}
	if got := find("+8613900000000"); len(got) != 0 {
		t.Fatalf("an unknown phone finds %v", got)
	}

	old, _ := NewDataKey([]byte("0123456789abcdef0123456789abcdef"))
	fresh, _ := NewDataKey([]byte("fedcba9876543210fedcba9876543210"))
	rotated, err := NewCipher(fresh, old)
	if err != nil {
		t.Fatal(err)
	}
	s.SetCipher(rotated)
	later := testCustomer(schemas.NewIDAt(c.now()), "team-2", "+8613911112222")
	if err := s.Office.InsertCustomer(ctx, later); err != nil {
		t.Fatal(err)
	}
	if got := find("+8613911112222"); !slices.Equal(got, []string{cu.ID, later.ID}) {
		t.Fatalf("by phone after a key rotation: %v, want %v", got, []string{cu.ID, later.ID})
	}
	cs, _, err := s.Office.Customers(ctx, CustomerFilter{Phone: "+8613911112222", Team: "team-2", Limit: 10})
	if err != nil || len(cs) != 1 || cs[0].ID != later.ID {
		t.Fatalf("by phone within team-2: %+v, %v", cs, err)
	}
}

// TestOfficeListsPage: every list, with each filter it offers, pages
// through more than one page in id order while records are inserted
// between pages: nothing is repeated or skipped, records inserted after
// the cursor show up, those inserted before it do not, and records the
// filter refuses never show.
func TestOfficeListsPage(t *testing.T) {
	for i := range len(officeListCases(nil, nil)) {
		s, c := openTest(t)
		var visible []string // customer ids named besides a team (a supervisor's)
		testOfficeList(t, c, officeListCases(s, &visible)[i])
	}
}

type officeListCase struct {
	name string
	// insert stores record n with id and reports whether the list's
	// filter takes it.
	insert func(id string, n int) (bool, error)
	list   func(after string, limit int) ([]string, string, error)
}

func officeListCases(s *Store, visible *[]string) []officeListCase {
	ctx := context.Background()
	type listCase = officeListCase
	workerIDs := func(ws []schemas.Worker, next string, err error) ([]string, string, error) {
		var ids []string
		for _, w := range ws {
			ids = append(ids, w.ID)
		}
		return ids, next, err
	}
	customerIDs := func(cs []schemas.Customer, next string, err error) ([]string, string, error) {
		var ids []string
		for _, x := range cs {
			ids = append(ids, x.ID)
		}
		return ids, next, err
	}
	workers := func(f WorkerFilter) func(string, int) ([]string, string, error) {
		return func(after string, limit int) ([]string, string, error) {
			f.After, f.Limit = after, limit
			return workerIDs(s.Office.Workers(ctx, f))
		}
	}
	customers := func(f CustomerFilter) func(string, int) ([]string, string, error) {
		return func(after string, limit int) ([]string, string, error) {
			f.After, f.Limit = after, limit
			if f.Team != "" && f.Phone == "" {
				f.IDs = *visible
			}
			return customerIDs(s.Office.Customers(ctx, f))
		}
	}
	newWorker := func(id string, n int) *schemas.Worker {
		team, status := "team-a", schemas.WorkerActive
		if n%3 == 0 {
			team = "team-b"
		}
		if n%2 == 0 {
			status = schemas.WorkerSuspended
		}
		var skills []schemas.Skill
		if n%4 != 0 {
			skills = []schemas.Skill{schemas.SkillCooking}
		}
		return testWorker(id, team, status, skills...)
	}
	cases := []listCase{
		{name: "workers", list: workers(WorkerFilter{}),
			insert: func(id string, n int) (bool, error) { return true, s.Office.InsertWorker(ctx, newWorker(id, n)) }},
		{name: "workers of a team", list: workers(WorkerFilter{Team: "team-a"}),
			insert: func(id string, n int) (bool, error) { return n%3 != 0, s.Office.InsertWorker(ctx, newWorker(id, n)) }},
		{name: "active workers", list: workers(WorkerFilter{Status: schemas.WorkerActive}),
			insert: func(id string, n int) (bool, error) { return n%2 != 0, s.Office.InsertWorker(ctx, newWorker(id, n)) }},
		{name: "active workers of a team", list: workers(WorkerFilter{Team: "team-a", Status: schemas.WorkerActive}),
			insert: func(id string, n int) (bool, error) {
				return n%3 != 0 && n%2 != 0, s.Office.InsertWorker(ctx, newWorker(id, n))
			}},
		{name: "workers with a skill", list: workers(WorkerFilter{Skill: schemas.SkillCooking}),
			insert: func(id string, n int) (bool, error) { return n%4 != 0, s.Office.InsertWorker(ctx, newWorker(id, n)) }},
		{name: "workers of a team with a skill", list: workers(WorkerFilter{Team: "team-a", Skill: schemas.SkillCooking}),
			insert: func(id string, n int) (bool, error) {
				return n%3 != 0 && n%4 != 0, s.Office.InsertWorker(ctx, newWorker(id, n))
			}},
		{name: "customers", list: customers(CustomerFilter{}),
			insert: func(id string, n int) (bool, error) {
				return true, s.Office.InsertCustomer(ctx, testCustomer(id, "team-a", "+8613900000001"))
			}},
		{name: "customers of a team and those it visits", list: customers(CustomerFilter{Team: "team-a"}),
			insert: func(id string, n int) (bool, error) {
				team := []string{"team-a", "team-b", ""}[n%3]
				if n%3 == 1 {
					*visible = append(*visible, id)
				}
				return n%3 != 2, s.Office.InsertCustomer(ctx, testCustomer(id, team, "+8613900000001"))
			}},
		{name: "customers by phone", list: customers(CustomerFilter{Phone: "+8613900000002"}),
			insert: func(id string, n int) (bool, error) {
				phone := "+8613900000001"
				if n%2 == 0 {
					phone = "+8613900000002"
				}
				return n%2 == 0, s.Office.InsertCustomer(ctx, testCustomer(id, "team-a", phone))
			}},
		{name: "service types", list: func(after string, limit int) ([]string, string, error) {
			sts, next, err := s.Office.ServiceTypes(ctx, false, after, limit)
			var ids []string
			for _, st := range sts {
				ids = append(ids, st.ID)
			}
			return ids, next, err
		}, insert: func(id string, n int) (bool, error) {
			return true, s.Office.InsertServiceType(ctx, testServiceType(id, fmt.Sprintf("all_%d", n), n%2 == 0))
		}},
		{name: "active service types", list: func(after string, limit int) ([]string, string, error) {
			sts, next, err := s.Office.ServiceTypes(ctx, true, after, limit)
			var ids []string
			for _, st := range sts {
				ids = append(ids, st.ID)
			}
			return ids, next, err
		}, insert: func(id string, n int) (bool, error) {
			return n%2 == 0, s.Office.InsertServiceType(ctx, testServiceType(id, fmt.Sprintf("active_%d", n), n%2 == 0))
		}},
		{name: "schedules", list: func(after string, limit int) ([]string, string, error) {
			schs, next, err := s.Schedules.List(ctx, nil, after, limit)
			var ids []string
			for _, sch := range schs {
				ids = append(ids, sch.ID)
			}
			return ids, next, err
		}, insert: func(id string, n int) (bool, error) {
			return true, s.Schedules.Insert(ctx, testSchedule(id, fmt.Sprintf("all-%d", n%3), ""))
		}},
		{name: "schedules of some customers", list: func(after string, limit int) ([]string, string, error) {
			schs, next, err := s.Schedules.List(ctx, []string{"some-0", "some-1"}, after, limit)
			var ids []string
			for _, sch := range schs {
				ids = append(ids, sch.ID)
			}
			return ids, next, err
		}, insert: func(id string, n int) (bool, error) {
			return n%3 != 2, s.Schedules.Insert(ctx, testSchedule(id, fmt.Sprintf("some-%d", n%3), ""))
		}},
	}
	return cases
}

func testOfficeList(t *testing.T, c *clock, lc officeListCase) {
	n := 0
	t.Run(lc.name, func(t *testing.T) {
		var want []string
		add := func(id string) bool {
			n++
			ok, err := lc.insert(id, n)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		for range 20 {
			c.advance(time.Millisecond)
			if id := schemas.NewIDAt(c.now()); add(id) {
				want = append(want, id)
			}
		}
		var got []string
		after := ""
		for pages := 0; ; pages++ {
			ids, next, err := lc.list(after, 3)
			if err != nil {
				t.Fatalf("page %d: %v", pages, err)
			}
			if len(ids) > 3 || next != "" && len(ids) == 0 {
				t.Fatalf("page %d: %d records, next %q", pages, len(ids), next)
			}
			got = append(got, ids...)
			if next == "" {
				break
			}
			if pages > 40 {
				t.Fatal("paging does not end")
			}
			after = next
			// One record after the cursor, which the list must
			// reach, and one before it, which it must not.
			c.advance(time.Millisecond)
			if id := schemas.NewIDAt(c.now()); add(id) {
				want = append(want, id)
			}
			add(schemas.NewIDAt(epoch.Add(-time.Hour)))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged through\n %v\nwant\n %v", got, want)
		}
		if len(want) <= 6 {
			t.Fatalf("only %d records: not more than one page", len(want))
		}
	})
}

// TestOfficeListsRefuseBadCursors: a cursor that is not an id is
// ErrCursor, a client's mistake.
func TestOfficeListsRefuseBadCursors(t *testing.T) {
	s, _ := openTest(t)
	ctx := t.Context()
	for name, list := range map[string]func(string) error{
		"workers": func(after string) error {
			_, _, err := s.Office.Workers(ctx, WorkerFilter{After: after, Limit: 5})
			return err
		},
		"customers": func(after string) error {
			_, _, err := s.Office.Customers(ctx, CustomerFilter{After: after, Limit: 5})
			return err
		},
		"service types": func(after string) error {
			_, _, err := s.Office.ServiceTypes(ctx, false, after, 5)
			return err
		},
		"schedules": func(after string) error {
			_, _, err := s.Schedules.List(ctx, nil, after, 5)
			return err
		},
	} {
		for _, bad := range []string{"$gt", "not-an-id", strings.Repeat("x", 36)} {
			if err := list(bad); !errors.Is(err, ErrCursor) {
				t.Errorf("%s after %q: %v, want ErrCursor", name, bad, err)
			}
		}
	}
}

// TestOpenSchedules: the open-ended schedules and those ending on the day
// or later, not those that ended before.
func TestOpenSchedules(t *testing.T) {
	s, c := openTest(t)
	ctx := t.Context()
	want := map[string]bool{}
	for _, ends := range []string{"", "2037-11-30", "2037-12-01", "2038-06-01", "", "2036-01-01"} {
		c.advance(time.Millisecond)
		sch := testSchedule(schemas.NewIDAt(c.now()), "c", ends)
		if err := s.Schedules.Insert(ctx, sch); err != nil {
			t.Fatal(err)
		}
		want[sch.ID] = ends == "" || ends >= "2037-12-01"
	}
	open, err := s.Schedules.Open(ctx, "2037-12-01")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, sch := range open {
		got[sch.ID] = true
		if sch.Version != 1 {
			t.Errorf("schedule %s at version %d", sch.ID, sch.Version)
		}
	}
	for id, w := range want {
		if got[id] != w {
			t.Errorf("schedule %s open = %v, want %v", id, got[id], w)
		}
	}
}
