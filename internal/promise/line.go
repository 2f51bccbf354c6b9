package promise

import (
	"context"
	"errors"
)

// Line is not written yet (placeholder while the type is being built).
type Line struct {
	Subject string `yaml:"line"`
}

// Check is not written yet.
func (r *Line) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("line promises are not implemented yet")
}

// Apply is not written yet.
func (r *Line) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("line promises are not implemented yet")
}
