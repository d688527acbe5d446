package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func TestRunRefusesBadConfig(t *testing.T) {
	var out bytes.Buffer
	if code := run(t.Context(), nil, env(map[string]string{"PORT": "x"}), &out); code != 2 {
		t.Fatalf("run with bad config = %d, want 2", code)
	}
	if !strings.Contains(out.String(), "PORT") {
		t.Fatalf("run did not explain: %s", out.String())
	}
}

// TestRunStopsCleanlyOnSignal: run serves until its context ends (SIGTERM
// in main), then drains and exits 0.
func TestRunStopsCleanlyOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var logs syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, nil, env(map[string]string{"PORT": "0", "DATA_DIR": t.TempDir()}), &logs) }()
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(logs.String(), "fieldsync listening") {
		if time.Now().After(deadline) {
			t.Fatalf("server did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d:\n%s", code, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after the signal")
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Fatalf("no clean stop in log:\n%s", logs.String())
	}
}
