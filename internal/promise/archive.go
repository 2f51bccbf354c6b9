package promise

import (
	"context"
	"errors"
)

// Archive is not written yet (placeholder while the type is being built).
type Archive struct {
	Subject string `yaml:"archive"`
}

// Check is not written yet.
func (r *Archive) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("archive promises are not implemented yet")
}

// Apply is not written yet.
func (r *Archive) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("archive promises are not implemented yet")
}
