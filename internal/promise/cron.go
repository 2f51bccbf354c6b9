package promise

import (
	"context"
	"errors"
)

// Cron is not written yet (placeholder while the type is being built).
type Cron struct {
	Subject string `yaml:"cron"`
}

// Check is not written yet.
func (r *Cron) Check(ctx context.Context, env *Env) (*Diff, error) {
	return nil, errors.New("cron promises are not implemented yet")
}

// Apply is not written yet.
func (r *Cron) Apply(ctx context.Context, env *Env, d *Diff) error {
	return errors.New("cron promises are not implemented yet")
}
