package promise

import (
	"regexp"
	"sync"
)

// lazyRegexp compiles expr the first time it is used, not when phenix
// starts: most runs never validate a user name or a package version, and
// start-up time is part of every run.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
