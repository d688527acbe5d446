package push

import (
	"context"
	"log/slog"
	"sort"
	"testing"
	"time"

	"fieldsync/schemas"
	"fieldsync/store/storetest"
)

// TestCertificateExpiryWarning: a certificate expiring within 30 days
// warns its worker and the team's supervisor once, however many passes
// and instances; one further away is warned when it comes within 30 days;
// an expired one, or an inactive worker's, is not.
func TestCertificateExpiryWarning(t *testing.T) {
	ctx := context.Background()
	sh, _ := time.LoadLocation("Asia/Shanghai")
	clk := &fixedClock{t: storetest.Epoch}
	db := storetest.New(t, clk.Now)
	log := slog.New(slog.DiscardHandler)
	outbox := NewOutbox(db.Push)
	relay := NewRelay(db, outbox, clk.Now, log)
	sched := NewScheduler(db, outbox, relay, clk.Now, log)
	other := NewScheduler(db, outbox, relay, clk.Now, log) // a second instance

	today := storetest.Epoch.In(sh) // 2037-11-24
	date := func(days int) string { return today.AddDate(0, 0, days).Format(schemas.DateLayout) }
	cert := func(typ string, days int) schemas.Certificate {
		return schemas.Certificate{Type: typ, Number: typ + "-1", Issued: "2036-01-01", Expires: date(days)}
	}
	w := &schemas.Worker{ID: schemas.NewIDAt(clk.Now()), Version: 1, WorkerInput: schemas.WorkerInput{Name: "张桂兰", Team: "team-1", Status: schemas.WorkerActive,
		TimeZone: "Asia/Shanghai", Certificates: []schemas.Certificate{cert("health", 30), cert("elder_care", 31), cert("childcare", -1)}}}
	gone := &schemas.Worker{ID: schemas.NewIDAt(clk.Now().Add(time.Millisecond)), Version: 1, WorkerInput: schemas.WorkerInput{Name: "刘美华", Team: "team-1",
		Status: schemas.WorkerLeft, TimeZone: "Asia/Shanghai", Certificates: []schemas.Certificate{cert("health", 3)}}}
	for _, x := range []*schemas.Worker{w, gone} {
		if err := db.Office.InsertWorker(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	for i, u := range []*schemas.User{
		{Login: "wk.a", Role: schemas.RoleWorker, WorkerID: w.ID, Team: "team-1", Locale: "en"},
		{Login: "sup.a", Role: schemas.RoleSupervisor, Team: "team-1"},
	} {
		u.ID = schemas.NewIDAt(clk.Now().Add(time.Duration(i+2) * time.Millisecond))
		if err := db.Accounts.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	warned := func() []string {
		t.Helper()
		ns, err := outbox.waiting(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, n := range ns {
			switch {
			case n.Kind == "certificate_expiring":
				if n.UserID == "" || n.Data["expires"] == "" || n.Title != "Certificate expiring" {
					t.Errorf("worker's warning %+v", n)
				}
				out = append(out, "worker:"+n.Data["certificateType"]+":"+n.Data["expires"])
			case n.Kind == "alert" && n.Data["alertKind"] == "certificate_expiring":
				a, err := db.Cases.Alert(ctx, n.Data["alertId"])
				if err != nil {
					t.Fatal(err)
				}
				if a.WorkerID != w.ID || a.Team != "team-1" {
					t.Errorf("alert %+v", a)
				}
				out = append(out, "supervisor:"+a.Detail)
			}
		}
		sort.Strings(out)
		return out
	}
	run := func() {
		t.Helper()
		for _, s := range []*Scheduler{sched, other, sched} {
			if err := s.RunOnce(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}

	run()
	want := []string{"supervisor:health certificate expires on " + date(30), "worker:health:" + date(30)}
	if got := warned(); len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("first day: %v, want %v", got, want)
	}
	// The next day: the elder-care certificate comes within 30 days; the
	// health one is not warned about again.
	clk.t = clk.t.Add(24 * time.Hour)
	run()
	if got := warned(); len(got) != 4 {
		t.Fatalf("second day: %v", got)
	}
	// A renewed certificate is warned about again before its new date.
	w.Certificates[0].Expires = date(40)
	if err := db.Office.ReplaceWorker(ctx, w, w.Version); err != nil {
		t.Fatal(err)
	}
	clk.t = clk.t.Add(10 * 24 * time.Hour)
	run()
	if got := warned(); len(got) != 6 {
		t.Fatalf("after renewal: %v", got)
	}
}
