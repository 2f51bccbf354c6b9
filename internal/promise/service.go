package promise

import (
	"context"
	"errors"
)

// Service is not written yet (placeholder while the type is being built).
type Service struct {
	Subject string `yaml:"service"`
}

// Check is not written yet.
func (r *Service) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("service promises are not implemented yet")
}

// Apply is not written yet.
func (r *Service) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("service promises are not implemented yet")
}
