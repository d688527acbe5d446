package push_test

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"fieldsync/push"
	"fieldsync/schemas"
	"fieldsync/store/storetest"
)

// BenchmarkAlertRecipients: telling a team about an alert among 2,000
// accounts (40 teams of a supervisor and 49 workers) reads the team's
// supervisors, not every user.
func BenchmarkAlertRecipients(b *testing.B) {
	ctx := context.Background()
	now := storetest.Epoch
	db := storetest.New(b, func() time.Time { return now })
	for team := range 40 {
		for i := range 50 {
			role := schemas.RoleWorker
			if i == 0 {
				role = schemas.RoleSupervisor
			}
			u := &schemas.User{ID: schemas.NewIDAt(now), Login: fmt.Sprintf("u%d.%d", team, i), Role: role, Team: fmt.Sprint("team-", team), Locale: "zh-CN"}
			if err := db.Accounts.CreateUser(ctx, u); err != nil {
				b.Fatal(err)
			}
		}
	}
	relay := push.NewRelay(db, push.NewOutbox(db.Push), db.Now, slog.New(slog.DiscardHandler))
	b.ResetTimer()
	for i := range b.N {
		a := &schemas.Alert{ID: fmt.Sprint("alert-", i), Kind: "late", Team: "team-7", Priority: "normal", CreatedAt: now}
		if err := relay.Alert(ctx, a); err != nil {
			b.Fatal(err)
		}
	}
}
