package app

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestSettingNames: settings are read as FIELDSYNC_NAME; the old name is
// read for this release with a warning; both set to different values is
// an error naming both.
func TestSettingNames(t *testing.T) {
	cfg, err := LoadConfig(env(map[string]string{"FIELDSYNC_PORT": "9001", "FIELDSYNC_ACCESS_TOKEN_TTL": "20m"}))
	if err != nil || cfg.Port != 9001 || cfg.AccessTTL.String() != "20m0s" || len(cfg.Warnings) != 0 {
		t.Fatalf("new names: port %d ttl %s warnings %q, %v", cfg.Port, cfg.AccessTTL, cfg.Warnings, err)
	}
	cfg, err = LoadConfig(env(map[string]string{"PORT": "9002", "FIELDSYNC_DATA_DIR": "/d"}))
	if err != nil || cfg.Port != 9002 || cfg.DataDir != "/d" {
		t.Fatalf("an old name: port %d dir %s, %v", cfg.Port, cfg.DataDir, err)
	}
	if len(cfg.Warnings) != 1 || !strings.Contains(cfg.Warnings[0], "rename it FIELDSYNC_PORT") {
		t.Fatalf("warnings for an old name: %q", cfg.Warnings)
	}
	if _, err := LoadConfig(env(map[string]string{"PORT": "9003", "FIELDSYNC_PORT": "9003"})); err != nil {
		t.Fatalf("both names, same value: %v", err)
	}
	_, err = LoadConfig(env(map[string]string{"PORT": "9003", "FIELDSYNC_PORT": "9004"}))
	if err == nil || !strings.Contains(err.Error(), "FIELDSYNC_PORT and PORT are both set") {
		t.Fatalf("both names, different values: %v", err)
	}
	// A setting new in this release has no old name.
	for _, s := range Settings() {
		if !strings.HasPrefix(s.Name, EnvPrefix) || s.Usage == "" {
			t.Errorf("setting %+v: want the prefix and a usage", s)
		}
	}
}

// TestCheckEnviron: a FIELDSYNC_ variable that names no setting is
// refused with the closest name; settings and the test suite's own
// FIELDSYNC_TEST_ variables pass.
func TestCheckEnviron(t *testing.T) {
	ok := []string{"FIELDSYNC_PORT=1", "FIELDSYNC_TEST_STORE=mongo", "PATH=/bin", "DATA_KEY_FIEL=x"}
	if err := CheckEnviron(ok); err != nil {
		t.Fatal(err)
	}
	err := CheckEnviron(append(ok, "FIELDSYNC_DATA_KEY_FIEL=/k", "FIELDSYNC_NONSENSE_AT_ALL=1"))
	if err == nil || !strings.Contains(err.Error(), "FIELDSYNC_DATA_KEY_FIEL is not a setting: did you mean FIELDSYNC_DATA_KEY_FILE?") {
		t.Fatalf("a misspelled setting: %v", err)
	}
	if !strings.Contains(err.Error(), "FIELDSYNC_NONSENSE_AT_ALL is not a setting (fieldsync -h lists them)") {
		t.Fatalf("an unknown setting: %v", err)
	}
}

// TestConfigDump: the start's configuration dump shows every setting as
// it would be written, durations as durations in JSON too, secrets masked.
func TestConfigDump(t *testing.T) {
	key := otherKey()
	cfg, err := LoadConfig(env(map[string]string{"FIELDSYNC_DATA_KEY": key, "FIELDSYNC_MONGODB_URI": "mongodb://u:pw@h/db", "FIELDSYNC_ADMIN_PASSWORD": "boss password 1"}))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	slog.New(slog.NewJSONHandler(&b, nil)).Info("starting", "config", cfg)
	var line struct{ Config map[string]string }
	if err := json.Unmarshal(b.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, b.String())
	}
	want := map[string]string{"ACCESS_TOKEN_TTL": "15m", "REFRESH_TOKEN_TTL": "1440h", "REFRESH_GRACE": "30s", "PUSH_INTERVAL": "1s",
		"SLOW_COMMAND": "0s", "PORT": "8080", "DATA_KEY": "***", "ADMIN_PASSWORD": "***", "MONGODB_URI": "mongodb://***@h/db", "JWT_SECRET": ""}
	for k, v := range want {
		if line.Config[k] != v {
			t.Errorf("%s = %q, want %q", k, line.Config[k], v)
		}
	}
	if len(line.Config) != len(Settings()) {
		t.Errorf("the dump has %d settings, the table %d", len(line.Config), len(Settings()))
	}
	if strings.Contains(b.String(), key) || strings.Contains(b.String(), "boss password") {
		t.Errorf("the dump shows a secret: %s", b.String())
	}
}

// TestREADMEListsEverySetting: the configuration table of README.md names
// each setting, and nothing that is not one.
func TestREADMEListsEverySetting(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "\n## Configuration")
	end := strings.Index(text[start+1:], "\n## ")
	section := text[start : start+1+end]
	var listed []string
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| `") {
			cell := strings.Split(line, "|")[1]
			listed = append(listed, regexp.MustCompile(`FIELDSYNC_[A-Z0-9_]+`).FindAllString(cell, -1)...)
		}
	}
	var names []string
	for _, s := range Settings() {
		names = append(names, s.Name)
		if !slices.Contains(listed, s.Name) {
			t.Errorf("README's configuration table does not list %s", s.Name)
		}
	}
	for _, n := range listed {
		if !slices.Contains(names, n) {
			t.Errorf("README's configuration table lists %s, which is not a setting", n)
		}
	}
}
