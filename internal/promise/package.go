package promise

import (
	"context"
	"errors"
)

// Package is not written yet (placeholder while the type is being built).
type Package struct {
	Subject StringList `yaml:"package"`
}

// Check is not written yet.
func (r *Package) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("package promises are not implemented yet")
}

// Apply is not written yet.
func (r *Package) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("package promises are not implemented yet")
}
