package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fieldsync/server/app"
)

const stampedVersion = "9.8.7-test"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds the program once per test run, stamped as the Dockerfile
// stamps it, in a directory any user may read (a test runs it as another).
func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the program")
	}
	buildOnce.Do(func() {
		var dir string
		if dir, buildErr = os.MkdirTemp("", "fieldsync-bin"); buildErr != nil {
			return
		}
		if buildErr = os.Chmod(dir, 0o755); buildErr != nil {
			return
		}
		binPath = filepath.Join(dir, "fieldsync")
		out, err := exec.Command("go", "build", "-ldflags", "-X main.version="+stampedVersion, "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, out}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + string(e.out) }

// process is the program running in a process of its own.
type process struct {
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{} // closed when the process has ended
}

// command is the program with exactly the variables vars (and PATH).
func command(t *testing.T, vars map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary(t), args...)
	cmd.Env = append(env(vars), "PATH="+os.Getenv("PATH"))
	return cmd
}

func start(t *testing.T, vars map[string]string) *process {
	t.Helper()
	p := &process{cmd: command(t, vars), logs: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Stderr = p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// exitCode waits for the process to end by itself.
func (p *process) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(60 * time.Second):
		t.Fatalf("the program did not end:\n%s", p.logs.String())
		return -1
	}
}

var listening = regexp.MustCompile(`fieldsync listening"? addr=(\S+)`)

// addr waits until the server listens and returns its address.
func (p *process) addr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if m := listening.FindStringSubmatch(p.logs.String()); m != nil {
			return m[1]
		}
		select {
		case <-p.done:
			t.Fatalf("the server ended (%s):\n%s", p.cmd.ProcessState, p.logs.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("the server did not start:\n%s", p.logs.String())
	return ""
}

// stop sends SIGTERM and waits for a clean exit.
func (p *process) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.exitCode(t); code != 0 {
		t.Fatalf("exit code %d after SIGTERM:\n%s", code, p.logs.String())
	}
}

func login(t *testing.T, addr, user, password string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"login": user, "password": password, "deviceId": "pc"})
	resp, err := http.Post("http://"+addr+"/v1/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

var oneTime = regexp.MustCompile(`one-time password.* login=admin password=(\S+)`)

// TestFirstAdminPasswordWhenReady: a first start that fails (its port is
// taken) creates no admin and shows no password; the next start, which
// serves, creates the admin and shows the password that signs in. Also:
// an old variable name is read, with a warning.
func TestFirstAdminPasswordWhenReady(t *testing.T) {
	taken, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	_, port, _ := net.SplitHostPort(taken.Addr().String())
	dir := t.TempDir()
	vars := map[string]string{"FIELDSYNC_PORT": port, "DATA_DIR": dir, "FIELDSYNC_DRAIN_DELAY": "0"}
	p := start(t, vars)
	if code := p.exitCode(t); code != 1 {
		t.Fatalf("start on a taken port: exit %d, want 1:\n%s", code, p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "address already in use") || strings.Contains(p.logs.String(), "password=") {
		t.Fatalf("the failed start:\n%s", p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "DATA_DIR is read for this release only: rename it FIELDSYNC_DATA_DIR") {
		t.Errorf("no warning for the old name DATA_DIR:\n%s", p.logs.String())
	}
	if strings.Contains(p.logs.String(), "NEW DATA KEY") {
		t.Errorf("the failed start announces the data key, which the next start would not:\n%s", p.logs.String())
	}

	vars["FIELDSYNC_PORT"] = "0"
	p = start(t, vars)
	addr := p.addr(t)
	m := oneTime.FindStringSubmatch(p.logs.String())
	if m == nil {
		t.Fatalf("the start that serves shows no one-time password:\n%s", p.logs.String())
	}
	if st := login(t, addr, "admin", m[1]); st != 200 {
		t.Fatalf("login with the one-time password = %d", st)
	}
	if !strings.Contains(p.logs.String(), "NEW DATA KEY generated") {
		t.Errorf("the start that serves does not announce the data key:\n%s", p.logs.String())
	}

	// While it serves: a new password from the command line, generated...
	reset := command(t, vars, "reset-admin-password")
	var stdout, stderr bytes.Buffer
	reset.Stdout, reset.Stderr = &stdout, &stderr
	if err := reset.Run(); err != nil {
		t.Fatalf("reset-admin-password: %v\n%s", err, stderr.String())
	}
	generated := strings.TrimSpace(stdout.String())
	if st := login(t, addr, "admin", generated); st != 200 || len(generated) < 15 {
		t.Fatalf("login with the reset password %q = %d\n%s", generated, st, stderr.String())
	}
	if st := login(t, addr, "admin", m[1]); st != 401 {
		t.Errorf("the one-time password after the reset = %d, want 401", st)
	}
	// ... or read from stdin.
	reset = command(t, vars, "reset-admin-password", "-login", "admin", "-stdin")
	reset.Stdin = strings.NewReader("chosen password 1\n")
	stdout.Reset()
	reset.Stdout, reset.Stderr = &stdout, &stderr
	if err := reset.Run(); err != nil || stdout.Len() != 0 {
		t.Fatalf("reset-admin-password -stdin: %v, stdout %q\n%s", err, stdout.String(), stderr.String())
	}
	if st := login(t, addr, "admin", "chosen password 1"); st != 200 {
		t.Fatalf("login with the password from stdin = %d", st)
	}
	p.stop(t)
	if n := strings.Count(p.logs.String(), m[1]); n != 1 {
		t.Errorf("the one-time password is logged %d times", n)
	}
}

// TestMissingDataKeyRefusedAtStart: the program says, and exits 1, when
// the data key of existing data is missing, instead of starting with a
// new one.
func TestMissingDataKeyRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	vars := map[string]string{"FIELDSYNC_PORT": "0", "FIELDSYNC_DATA_DIR": dir, "FIELDSYNC_DRAIN_DELAY": "0"}
	p := start(t, vars)
	p.addr(t)
	p.stop(t)
	if !strings.Contains(p.logs.String(), `msg="NEW DATA KEY generated: back it up now, apart from the data" file=`+filepath.Join(dir, "data.key")) {
		t.Errorf("the first start does not announce its data key:\n%s", p.logs.String())
	}
	if err := os.Remove(filepath.Join(dir, "data.key")); err != nil {
		t.Fatal(err)
	}
	p = start(t, vars)
	if code := p.exitCode(t); code != 1 {
		t.Fatalf("start without the data key: exit %d, want 1:\n%s", code, p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "no data key at "+filepath.Join(dir, "data.key")) || strings.Contains(p.logs.String(), "fieldsync listening") {
		t.Fatalf("start without the data key:\n%s", p.logs.String())
	}
}

// TestDataDirNotWritable: a data directory the server's user cannot write
// (as a bind mount owned by another user on the image's /data) stops the
// start with a message naming both users and the fix.
func TestDataDirNotWritable(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Dir(dir), 0o755)
	vars := map[string]string{"FIELDSYNC_PORT": "0", "FIELDSYNC_DATA_DIR": dir}
	p := &process{cmd: command(t, vars), logs: &syncBuffer{}}
	uid := os.Getuid()
	if uid == 0 {
		// As root, run as the image's user, 65532, on root's directory.
		uid = 65532
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65532, Gid: 65532}}
	} else if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	p.cmd.Stderr = &out
	err := p.cmd.Run()
	if p.cmd.ProcessState == nil {
		t.Fatalf("run: %v", err)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 1 {
		t.Fatalf("exit %d, want 1:\n%s", code, out.String())
	}
	for _, want := range []string{"is not writable by this process, which runs as uid " + strconv.Itoa(uid), "owned by uid " + strconv.Itoa(os.Getuid()), "chown -R"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the message does not say %q:\n%s", want, out.String())
		}
	}
}

// TestUnknownSettingRefused: a misspelled FIELDSYNC_ variable stops the
// program before it starts, with the name it probably meant.
func TestUnknownSettingRefused(t *testing.T) {
	cmd := command(t, map[string]string{"FIELDSYNC_PORT": "0", "FIELDSYNC_DATA_DIR": t.TempDir(), "FIELDSYNC_DATA_KEY_FIEL": "/secrets/data.key"})
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "did you mean FIELDSYNC_DATA_KEY_FILE?") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

// TestVersionAndHealthcheck: -version prints the version stamped at
// build; healthcheck exits 0 while the configured server is ready and 1
// when nothing answers.
func TestVersionAndHealthcheck(t *testing.T) {
	out, err := command(t, nil, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "fieldsync "+stampedVersion) || !strings.Contains(string(out), "go1.") {
		t.Fatalf("-version: %q, %v", out, err)
	}
	p := start(t, map[string]string{"FIELDSYNC_PORT": "0", "FIELDSYNC_DATA_DIR": t.TempDir(), "FIELDSYNC_DRAIN_DELAY": "0"})
	_, port, _ := net.SplitHostPort(p.addr(t))
	if !strings.Contains(p.logs.String(), "version=\""+stampedVersion) {
		t.Errorf("the start does not log the version:\n%s", p.logs.String())
	}
	check := map[string]string{"FIELDSYNC_PORT": port, "FIELDSYNC_BIND_ADDR": "0.0.0.0"}
	if out, err := command(t, check, "healthcheck").CombinedOutput(); err != nil {
		t.Fatalf("healthcheck on a ready server: %v\n%s", err, out)
	}
	p.stop(t)
	cmd := command(t, check, "healthcheck")
	out, _ = cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(string(out), "/readyz") {
		t.Fatalf("healthcheck with nothing listening: exit %d\n%s", code, out)
	}
}

// TestHelpListsEverySetting: -h lists every setting with its default and
// what it is for, and exits 0.
func TestHelpListsEverySetting(t *testing.T) {
	var out bytes.Buffer
	if code := run(t.Context(), []string{"-h"}, nil, io.Discard, &out); code != 0 {
		t.Fatalf("-h = %d", code)
	}
	for _, s := range app.Settings() {
		def := s.Default
		if def == "" {
			def = "unset"
		}
		if !strings.Contains(out.String(), s.Name+" (default "+def+")\n    \t"+s.Usage) {
			t.Errorf("-h does not list %s", s.Name)
		}
	}
	for _, cmd := range []string{"backup", "reset-admin-password", "healthcheck", "-version"} {
		if !strings.Contains(out.String(), "fieldsync "+cmd) {
			t.Errorf("-h does not list %s", cmd)
		}
	}
}

// TestDockerfile: the image pins its base images by digest, builds with
// cache mounts and a stamped version, sets only settings that exist (by
// their new names), and declares a HEALTHCHECK through the program.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, m := range regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(text, -1) {
		if !regexp.MustCompile(`:[^@]+@sha256:[0-9a-f]{64}$`).MatchString(m[1]) {
			t.Errorf("FROM %s: not pinned by digest (with its tag)", m[1])
		}
	}
	for _, want := range []string{"--mount=type=cache,target=/go/pkg/mod", "--mount=type=cache,target=/root/.cache/go-build",
		"-X main.version=${VERSION}", `HEALTHCHECK`, `CMD ["/fieldsync", "healthcheck"]`} {
		if !strings.Contains(text, want) {
			t.Errorf("the Dockerfile lacks %s", want)
		}
	}
	known := map[string]bool{}
	for _, s := range app.Settings() {
		known[s.Name] = true
	}
	for _, m := range regexp.MustCompile(`(?m)^ENV (.*)$`).FindAllStringSubmatch(text, -1) {
		for _, kv := range strings.Fields(m[1]) {
			name, _, _ := strings.Cut(kv, "=")
			if name != "GOTOOLCHAIN" && !known[name] {
				t.Errorf("ENV %s is not a setting", name)
			}
		}
	}
}
