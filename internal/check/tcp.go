package check

import (
	"context"
	"errors"
	"fmt"
	"net"
)

// dialTCP passes when t's address accepts a connection in time.
func dialTCP(ctx context.Context, t *TCPCheck, data map[string]any) error {
	addr, err := render("address", t.Address, data)
	if err != nil {
		return err
	}
	dialCtx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dialCtx, "tcp", addr)
	if err != nil {
		if ctx.Err() == nil && errors.Is(dialCtx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("dial tcp %s: no connection within %v", addr, t.Timeout)
		}
		return err
	}
	return conn.Close()
}
