package promise

import (
	"context"
	"errors"
)

// User is not written yet (placeholder while the type is being built).
type User struct {
	Subject string `yaml:"user"`
}

// Check is not written yet.
func (r *User) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("user promises are not implemented yet")
}

// Apply is not written yet.
func (r *User) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("user promises are not implemented yet")
}
