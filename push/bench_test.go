package push_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"firebase.google.com/go/v4/messaging"

	"fieldsync/push"
)

// BenchmarkDeliver enqueues and delivers 10,000 notifications to 100
// users' devices through the outbox and the dispatcher, against a local
// FCM endpoint, and reports notifications/second. BenchmarkFCMCeiling
// sends the same messages straight to the same endpoint with SendEach in
// batches of 500: the ceiling to compare with.
//
//	go test ./push -run '^$' -bench . -benchtime 1x
func BenchmarkDeliver(b *testing.B) {
	const total = 10000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r := newRig(b)
		ctx := context.Background()
		for u := 0; u < 100; u++ {
			r.device(b, fmt.Sprintf("u%d", u), "phone", "android")
		}
		b.StartTimer()
		start := time.Now()
		for n := 0; n < total; n++ {
			if _, err := r.outbox.Enqueue(ctx, &push.Notification{DedupeKey: fmt.Sprintf("b%d/%d", i, n), UserID: fmt.Sprintf("u%d", n%100), Kind: "pull", TTL: time.Hour}); err != nil {
				b.Fatal(err)
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
		b.ReportMetric(total/el.Seconds(), "notif/s")
		b.ReportMetric(total/(el-enq).Seconds(), "deliver/s")
	}
}

func BenchmarkFCMCeiling(b *testing.B) {
	const total = 10000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		_, endpoint := newFCM(b)
		client, err := push.NewFCMClient(context.Background(), "test", endpoint)
		if err != nil {
			b.Fatal(err)
		}
		ttl := time.Hour
		msgs := make([]*messaging.Message, total)
		for n := range msgs {
			msgs[n] = &messaging.Message{Token: fmt.Sprintf("tok-u%d-phone-xxxxxxxxxxxxxxxxxxxx", n%100), Data: map[string]string{"kind": "pull", "notificationId": fmt.Sprint(n)},
				Android: &messaging.AndroidConfig{Priority: "normal", TTL: &ttl, CollapseKey: "pull"}}
		}
		b.StartTimer()
		start := time.Now()
		for s := 0; s < total; s += 500 {
			if _, err := client.SendEach(context.Background(), msgs[s:s+500]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(total/time.Since(start).Seconds(), "notif/s")
	}
}
