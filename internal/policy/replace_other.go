//go:build !linux

package policy

// replaceDir puts directory tmp in the place of dir.
func replaceDir(tmp, dir string) error {
	return replaceDirByRenames(tmp, dir)
}
