package server_test

import (
	"os"
	"testing"

	"github.com/phenixhq/phenix/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}
