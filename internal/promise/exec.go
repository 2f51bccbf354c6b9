package promise

import (
	"context"
	"errors"
)

// Exec is not written yet (placeholder while the type is being built).
type Exec struct {
	Subject string `yaml:"exec"`
}

// Check is not written yet.
func (r *Exec) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("exec promises are not implemented yet")
}

// Apply is not written yet.
func (r *Exec) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("exec promises are not implemented yet")
}
