package agent

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watcher watches the paths the last convergence manages, and tells the
// convergence loop which of them had events.
//
// It watches their parent directories, not the paths: an editor or an
// atomic write replaces the file with another inode, which a watch on the
// file itself would lose. Events on other names in those directories are
// ignored.
//
// Events say that something happened, not that anything changed: the
// agent's own writes cause events too. So the watcher also keeps a
// fingerprint of each managed path as the convergence left it (inode,
// mode, owner, size, times), and Changed compares: events whose paths
// still have their fingerprint are the agent's own, and cause nothing.
type watcher struct {
	log      *slog.Logger
	out      chan<- []string
	debounce time.Duration

	mu    sync.Mutex
	fw    *fsnotify.Watcher      // nil when the system refused one
	paths map[string]fingerprint // managed paths, under Root
	dirs  map[string]bool        // directories watched
}

func newWatcher(log *slog.Logger, out chan<- []string, debounce time.Duration) *watcher {
	w := &watcher{log: log, out: out, debounce: debounce, paths: map[string]fingerprint{}, dirs: map[string]bool{}}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		log.Error("cannot watch managed files: drift is repaired at the interval only", "err", err)
	} else {
		w.fw = fw
	}
	return w
}

// set makes the paths of fps the managed paths, with their fingerprints,
// and watches their directories.
func (w *watcher) set(fps map[string]fingerprint) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.paths = fps
	dirs := map[string]bool{}
	for p := range fps {
		dirs[filepath.Dir(p)] = true
	}
	if w.fw == nil {
		return
	}
	for d := range w.dirs {
		if !dirs[d] {
			_ = w.fw.Remove(d)
		}
	}
	// Add every directory again: one removed and made again since is a
	// new inode, which the old watch does not see.
	for d := range dirs {
		if err := w.fw.Add(d); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				w.log.Warn("cannot watch a directory", "dir", d, "err", err)
			}
			delete(dirs, d)
		}
	}
	w.dirs = dirs
}

// Changed returns the paths among paths whose fingerprint is no longer
// the one recorded.
func (w *watcher) Changed(paths []string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, p := range paths {
		if fp, ok := w.paths[p]; ok && fp != fingerprintOf(p) {
			out = append(out, p)
		}
	}
	return out
}

func (w *watcher) managed(p string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.paths[p]
	return ok
}

func (w *watcher) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.paths))
	for p := range w.paths {
		out = append(out, p)
	}
	return out
}

// run gathers the events on managed paths for debounce after the first,
// then hands their paths to the convergence loop, until ctx ends.
func (w *watcher) run(ctx context.Context) error {
	if w.fw == nil {
		<-ctx.Done()
		return nil
	}
	defer w.fw.Close()
	pending := map[string]bool{}
	var (
		timer <-chan time.Time
		batch []string // handed over when out takes it
	)
	for {
		var out chan<- []string
		if batch != nil {
			out = w.out
		}
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fw.Events:
			if !ok {
				return nil
			}
			if !w.managed(ev.Name) {
				continue
			}
			pending[ev.Name] = true
			if timer == nil && batch == nil {
				timer = time.After(w.debounce)
			}
		case err, ok := <-w.fw.Errors:
			if !ok {
				return nil
			}
			w.log.WarnContext(ctx, "file watch error", "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				for _, p := range w.all() {
					pending[p] = true
				}
				if timer == nil && batch == nil {
					timer = time.After(w.debounce)
				}
			}
		case <-timer:
			timer = nil
			for p := range pending {
				batch = append(batch, p)
			}
			slices.Sort(batch)
			clear(pending)
		case out <- batch:
			batch = nil
			if len(pending) > 0 {
				timer = time.After(w.debounce)
			}
		}
	}
}

// fingerprint is what a change to a path changes.
type fingerprint struct {
	exists     bool
	mode       fs.FileMode
	ino        uint64
	uid, gid   uint32
	size       int64
	mtime      int64
	ctime      int64
	linkTarget string
}

// fingerprintOf returns the fingerprint of path, without following a
// symbolic link. The size and times of a directory are left out: they
// change with its entries, which are not the directory's promise.
func fingerprintOf(p string) fingerprint {
	info, err := os.Lstat(p)
	if err != nil {
		return fingerprint{}
	}
	fp := fingerprint{exists: true, mode: info.Mode()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		fp.ino, fp.uid, fp.gid = st.Ino, st.Uid, st.Gid
		if !info.IsDir() {
			fp.ctime = st.Ctim.Nano()
		}
	}
	switch {
	case info.IsDir():
	case info.Mode()&fs.ModeSymlink != 0:
		fp.linkTarget, _ = os.Readlink(p)
	default:
		fp.size, fp.mtime = info.Size(), info.ModTime().UnixNano()
	}
	return fp
}
