package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// fileMode is the mode every benchmark file is promised to have.
const fileMode os.FileMode = 0o644

// workload is the set of files one tool must converge: n files named
// f0001…fNNNN directly in dir, each with its own fixed content.
type workload struct {
	dir string
	n   int
}

// file is one promised file.
type file struct {
	path    string
	content string
}

// files returns the promised files in order.
func (w workload) files() []file {
	width := max(4, len(fmt.Sprint(w.n)))
	fs := make([]file, w.n)
	for i := range fs {
		name := fmt.Sprintf("f%0*d", width, i+1)
		line := fmt.Sprintf("line for file %0*d\n", width, i+1)
		fs[i] = file{path: filepath.Join(w.dir, name), content: strings.Repeat(line, 5)}
	}
	return fs
}

// reset leaves dir empty, as before a create run.
func (w workload) reset() error {
	if err := os.RemoveAll(w.dir); err != nil {
		return fmt.Errorf("wipe %s: %w", w.dir, err)
	}
	if err := os.Mkdir(w.dir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", w.dir, err)
	}
	return nil
}

// tamper changes the content of two files and the mode of a third (the
// first, the middle and the last) and returns their paths.
func (w workload) tamper() ([]string, error) {
	fs := w.files()
	content := []file{fs[0], fs[len(fs)/2]}
	mode := fs[len(fs)-1]
	for _, f := range content {
		// WriteFile keeps the mode of an existing file.
		if err := os.WriteFile(f.path, []byte("tampered\n"), fileMode); err != nil {
			return nil, fmt.Errorf("tamper with content: %w", err)
		}
	}
	if err := os.Chmod(mode.path, 0o600); err != nil {
		return nil, fmt.Errorf("tamper with mode: %w", err)
	}
	return []string{content[0].path, content[1].path, mode.path}, nil
}

// verify checks that every promised file is a regular file with the
// promised content and mode, and that dir holds nothing else. It reports
// up to five problems and how many there were in all.
func (w workload) verify() error {
	var problems []string
	fs := w.files()
	want := make(map[string]bool, len(fs))
	for _, f := range fs {
		want[filepath.Base(f.path)] = true
		if p := checkFile(f); p != "" {
			problems = append(problems, p)
		}
	}
	entries, err := os.ReadDir(w.dir)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	for _, e := range entries {
		if !want[e.Name()] {
			problems = append(problems, fmt.Sprintf("%s: unexpected entry", filepath.Join(w.dir, e.Name())))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	shown := problems[:min(5, len(problems))]
	return fmt.Errorf("verify: %d problems, first: %s", len(problems), strings.Join(shown, "; "))
}

func checkFile(f file) string {
	fi, err := os.Lstat(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return f.path + ": missing"
	}
	if err != nil {
		return err.Error()
	}
	if !fi.Mode().IsRegular() {
		return fmt.Sprintf("%s: not a regular file (%s)", f.path, fi.Mode().Type())
	}
	var p []string
	if got := fi.Mode() & (os.ModePerm | os.ModeSetuid | os.ModeSetgid | os.ModeSticky); got != fileMode {
		p = append(p, fmt.Sprintf("mode %#o, want %#o", got, fileMode))
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		return err.Error()
	}
	if !bytes.Equal(b, []byte(f.content)) {
		p = append(p, fmt.Sprintf("content %.30q, want %.30q", b, f.content))
	}
	if len(p) == 0 {
		return ""
	}
	return f.path + ": " + strings.Join(p, ", ")
}
