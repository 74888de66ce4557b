package pushgate_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestProgramOutsideTheRepo builds a program of a user's own in a module
// outside this repository (a replace directive points at it): a main.go of
// at most 15 non-blank lines that serves the full receiver with its own
// CLICK handler, and a test written only with pushgatetest. It runs that
// module's go vet and go test offline, from the module cache.
func TestProgramOutsideTheRepo(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	goMod := "module example.com/clickbot\n\ngo 1.26\n\nrequire github.com/pushgate/pushgate v0.0.0\n\nreplace github.com/pushgate/pushgate => " + root + "\n"
	files := map[string][]byte{"go.mod": []byte(goMod)}
	for _, f := range []struct{ from, to string }{
		{"go.sum", "go.sum"},
		{"testdata/clickbot/main.go.txt", "main.go"},
		{"testdata/clickbot/main_test.go.txt", "main_test.go"},
	} {
		b, err := os.ReadFile(filepath.Join(root, f.from))
		if err != nil {
			t.Fatal(err)
		}
		files[f.to] = b
	}
	if n := nonBlankLines(files["main.go"]); n > 15 {
		t.Errorf("the user's main.go has %d non-blank lines, want at most 15", n)
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	for _, args := range [][]string{{"vet", "./..."}, {"test", "-count=1", "-v", "./..."}} {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		// Offline: every module comes from the module cache.
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOPROXY=off", "GOSUMDB=off", "GOWORK=off")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("go %s in the outside module: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("go %s:\n%s", strings.Join(args, " "), out)
		if args[0] == "test" && !bytes.Contains(out, []byte("--- PASS: TestClick")) {
			t.Errorf("the outside module's TestClick did not pass:\n%s", out)
		}
	}
}

func nonBlankLines(b []byte) int {
	n := 0
	for _, line := range bytes.Split(b, []byte("\n")) {
		if len(bytes.TrimSpace(line)) > 0 {
			n++
		}
	}
	return n
}
