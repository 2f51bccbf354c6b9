package server

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// DefaultDataDir is where phenix server and phenix up keep their data when
// --data is not given: /var/lib/phenix/server for root, else
// $XDG_DATA_HOME/phenix/server (~/.local/share/phenix/server).
func DefaultDataDir() string {
	if os.Geteuid() == 0 {
		return "/var/lib/phenix/server"
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "phenix", "server")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "phenix", "server")
	}
	return filepath.Join(home, ".local", "share", "phenix", "server")
}

// ReadInfo reads the server.json a server wrote in dataDir: how the CLI on
// the same machine reaches it.
func ReadInfo(dataDir string) (Info, error) {
	var info Info
	b, err := os.ReadFile(filepath.Join(dataDir, "server.json"))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(b, &info); err != nil {
		return info, fmt.Errorf("%s: %w", filepath.Join(dataDir, "server.json"), err)
	}
	return info, nil
}
