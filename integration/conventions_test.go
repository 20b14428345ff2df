package integration

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ringside/ringside"

// imports maps each Go file under dir (relative to the repository root) to
// the module-internal packages it imports.
func imports(t *testing.T, dir string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	root := filepath.Join("..", dir)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("..", path)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module+"/") {
				out[rel] = append(out[rel], strings.TrimPrefix(p, module+"/"))
			}
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return out
}

// TestLayering enforces the dependency rule of the design: pkg/ never
// imports adapters/, and an adapter never imports another adapter.
func TestLayering(t *testing.T) {
	for file, imps := range imports(t, "pkg") {
		for _, p := range imps {
			if strings.HasPrefix(p, "adapters/") || strings.HasPrefix(p, "cmd/") || strings.HasPrefix(p, "integration") {
				t.Errorf("%s imports %s: pkg/ must not depend on adapters, cmd or integration", file, p)
			}
		}
	}
	for file, imps := range imports(t, "adapters") {
		own := strings.Split(filepath.ToSlash(file), "/")[1]
		for _, p := range imps {
			if strings.HasPrefix(p, "adapters/") && strings.Split(p, "/")[1] != own {
				t.Errorf("%s imports %s: an adapter must not import another adapter", file, p)
			}
			if strings.HasPrefix(p, "cmd/") {
				t.Errorf("%s imports %s", file, p)
			}
		}
	}
}

// TestReadmeSetupCommands keeps the README's promise: exactly two set-up
// commands, one to run Ringside and one to run the tests, both real Makefile
// targets, and the test command is what CI runs.
func TestReadmeSetupCommands(t *testing.T) {
	readme := read(t, "../README.md")
	makefile := read(t, "../Makefile")
	ci := read(t, "../.ci/run")

	block := regexp.MustCompile("(?s)## Quick start.*?```sh\n(.*?)```").FindStringSubmatch(readme)
	if block == nil {
		t.Fatal("README has no Quick start section with a sh code block")
	}
	var cmds []string
	for _, l := range strings.Split(strings.TrimSpace(block[1]), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			cmds = append(cmds, l)
		}
	}
	if len(cmds) != 2 || cmds[0] != "make run" || cmds[1] != "make test" {
		t.Fatalf("Quick start commands = %q, want [make run, make test]", cmds)
	}
	for _, target := range []string{"run", "test"} {
		if !regexp.MustCompile("(?m)^" + target + ":").MatchString(makefile) {
			t.Errorf("Makefile has no %q target", target)
		}
	}
	if !regexp.MustCompile(`(?m)^make test$`).MatchString(ci) {
		t.Error(".ci/run does not run `make test`")
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
