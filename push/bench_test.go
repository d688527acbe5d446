package push_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"fieldsync/push"
)

// BenchmarkDeliver enqueues (in batches of 500) and delivers 10,000
// notifications to 100 users' devices through the outbox and the
// dispatcher, against a local
// FCM endpoint, and in the same run sends the same messages straight to
// the same endpoint with SendEach in batches of 500, the ceiling. It
// reports both rates and their ratio (issue 12's target: at least 0.5):
//
//	go test ./push -run '^$' -bench Deliver -benchtime 1x
func BenchmarkDeliver(b *testing.B) {
	const total, users = 10000, 100
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b)
		ctx := context.Background()
		for u := 0; u < users; u++ {
			r.device(b, fmt.Sprintf("u%d", u), "phone", "android")
		}
		ceiling := fcmCeiling(b, r, total, users)
		b.StartTimer()
		start := time.Now()
		for s := 0; s < total; s += 500 {
			batch := make([]*push.Notification, 500)
			for k := range batch {
				n := s + k
				batch[k] = &push.Notification{DedupeKey: fmt.Sprintf("b%d/%d", i, n), UserID: fmt.Sprintf("u%d", n%users), Kind: "pull", CollapseKey: "pull", TTL: time.Hour}
			}
			if added, err := r.outbox.EnqueueMany(ctx, batch); err != nil || added != len(batch) {
				b.Fatal(added, err)
			}
		}
		enq := time.Since(start)
		d := r.newDisp("bench")
		for {
			c, lost, err := d.RunOnce(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if c == 0 && lost == 0 {
				break
			}
		}
		el := time.Since(start)
		if got := d.Metrics.Sent.Load(); got != total {
			b.Fatalf("sent %d of %d", got, total)
		}
		rate := total / el.Seconds()
		b.ReportMetric(rate, "notif/s")
		b.ReportMetric(total/(el-enq).Seconds(), "deliver/s")
		b.ReportMetric(ceiling, "ceiling/s")
		b.ReportMetric(rate/ceiling, "ratio")
	}
}

// fcmCeiling sends total messages of the rig's devices straight to its
// FCM endpoint with the bare Admin SDK client, in SendEach batches of 500,
// and returns messages per second. The messages are those the dispatcher
// sends (the same shapes), so only the outbox's cost makes the difference.
func fcmCeiling(b testing.TB, r *rig, total, users int) float64 {
	client, err := push.NewFCMClient(context.Background(), "test", r.fcm.url+"/v1")
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]*messaging.Message, total)
	for n := range msgs {
		// The very message the dispatcher sends for notification n.
		msgs[n] = push.ToFCM(push.Message{
			N:      &push.Notification{ID: fmt.Sprint(n), Kind: "pull", CollapseKey: "pull", TTL: time.Hour, Data: map[string]string{"kind": "pull", "notificationId": fmt.Sprint(n)}},
			Target: push.Target{Token: fmt.Sprintf("tok-u%d-phone-xxxxxxxxxxxxxxxxxxxx", n%users), Platform: "android"},
		}, r.clk.Now())
	}
	start := time.Now()
	for s := 0; s < total; s += 500 {
		if _, err := client.SendEach(context.Background(), msgs[s:s+500]); err != nil {
			b.Fatal(err)
		}
	}
	return float64(total) / time.Since(start).Seconds()
}
