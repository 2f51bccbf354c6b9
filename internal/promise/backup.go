package promise

import (
	"os"
	"path/filepath"
	"sort"
	"time"
)

// keepBackups is how many copies of each file the backup directory keeps.
const keepBackups = 5

// DefaultBackupDir is where replaced file contents are kept, on the host
// (under --root when one is given).
const DefaultBackupDir = "/var/lib/phenix/backups"

// backupStamp names a backup by the time it was taken, so that names sort
// in time order.
func backupStamp() string {
	return time.Now().UTC().Format("20060102T150405.000000000Z")
}

// pruneBackups keeps the newest keep backups of base (base.<stamp>).
func pruneBackups(base string, keep int) {
	matches, err := filepath.Glob(base + ".[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T*Z")
	if err != nil || len(matches) <= keep {
		return
	}
	sort.Strings(matches)
	for _, m := range matches[:len(matches)-keep] {
		os.Remove(m)
	}
}
