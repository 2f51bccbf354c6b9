package promise

import (
	"context"
	"errors"
)

// Group is not written yet (placeholder while the type is being built).
type Group struct {
	Subject string `yaml:"group"`
}

// Check is not written yet.
func (r *Group) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("group promises are not implemented yet")
}

// Apply is not written yet.
func (r *Group) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("group promises are not implemented yet")
}
