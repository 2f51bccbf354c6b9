package promise

import (
	"context"
	"errors"
)

// Symlink is not written yet (placeholder while the type is being built).
type Symlink struct {
	Subject string `yaml:"symlink"`
}

// Check is not written yet.
func (r *Symlink) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("symlink promises are not implemented yet")
}

// Apply is not written yet.
func (r *Symlink) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("symlink promises are not implemented yet")
}
