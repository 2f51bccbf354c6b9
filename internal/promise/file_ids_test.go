package promise_test

import (
	"io/fs"
	"syscall"
)

func fileIDs(st fs.FileInfo) (uid, gid int) {
	s := st.Sys().(*syscall.Stat_t)
	return int(s.Uid), int(s.Gid)
}
