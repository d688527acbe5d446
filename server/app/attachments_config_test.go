package app

import (
	"strings"
	"testing"
	"time"

	fsync "fieldsync/sync"
)

// TestAttachmentConfig: the upload quotas default to the engine's and are
// read from the environment; a byte quota below one full-size file is
// refused.
func TestAttachmentConfig(t *testing.T) {
	cfg, err := LoadConfig(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := fsync.DefaultAttachmentLimits
	if cfg.AttachmentPendingUploads != d.MaxPending || int64(cfg.AttachmentPendingBytes) != d.MaxPendingBytes || cfg.AttachmentUploadTTL != d.UploadTTL {
		t.Fatalf("defaults %d %d %s, engine's %+v", cfg.AttachmentPendingUploads, cfg.AttachmentPendingBytes, cfg.AttachmentUploadTTL, d)
	}
	cfg, err = LoadConfig(env(map[string]string{"ATTACHMENT_PENDING_UPLOADS": "3", "ATTACHMENT_PENDING_BYTES": "20971520", "ATTACHMENT_UPLOAD_TTL": "2h"}))
	if err != nil || cfg.AttachmentPendingUploads != 3 || cfg.AttachmentPendingBytes != 20<<20 || cfg.AttachmentUploadTTL != 2*time.Hour {
		t.Fatalf("read %+v, %v", cfg, err)
	}
	_, err = LoadConfig(env(map[string]string{"ATTACHMENT_PENDING_BYTES": "1000", "ATTACHMENT_UPLOAD_TTL": "1s"}))
	if err == nil || !strings.Contains(err.Error(), "ATTACHMENT_PENDING_BYTES") || !strings.Contains(err.Error(), "ATTACHMENT_UPLOAD_TTL") {
		t.Fatalf("invalid quotas: %v", err)
	}
}
