package promise

import (
	"context"
	"errors"
)

// Directory is not written yet (placeholder while the type is being built).
type Directory struct {
	Subject string `yaml:"directory"`
}

// Check is not written yet.
func (r *Directory) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("directory promises are not implemented yet")
}

// Apply is not written yet.
func (r *Directory) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("directory promises are not implemented yet")
}
