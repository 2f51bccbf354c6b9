package promise

import "github.com/phenixhq/phenix/internal/supervisor"

// ServiceHost says where a service promise acts, for callers that keep
// services elsewhere than the real host's places: the agent running
// under a root other than / (its tests) points the supervisor's files
// under that root.
type ServiceHost struct {
	// SystemdDir exists when systemd is the init system; "" means
	// /run/systemd/system.
	SystemdDir string
	// Dirs hold the supervisor's files; the zero value means
	// supervisor.DefaultDirs().
	Dirs supervisor.Dirs
	// Exe is the phenix binary that runs `phenix supervise`; "" means
	// this process's executable.
	Exe string
}

// SetHost makes the promise act on h. Call it before the promise runs.
func (r *Service) SetHost(h ServiceHost) {
	r.host.systemdDir, r.host.dirs, r.host.exe = h.SystemdDir, h.Dirs, h.Exe
}
