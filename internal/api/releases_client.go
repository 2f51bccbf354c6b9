package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// UploadVersion uploads the artifact of version of app, streaming body
// (size bytes, or -1 when unknown) with note as its X-Phenix-Note. created
// is true when the server stored a new version (201), false when it had
// this version with the same content already (200); other content under
// the same version is a conflict (a *StatusError with code 409).
func (c *Client) UploadVersion(ctx context.Context, app, version string, body io.Reader, size int64, note string) (v Version, created bool, err error) {
	var header []string
	if note != "" {
		header = []string{"X-Phenix-Note", note}
	}
	code, err := c.DoBody(ctx, "PUT", appPath(app)+"/versions/"+url.PathEscape(version), body, size, &v, header...)
	return v, code == http.StatusCreated, err
}

// Versions lists the versions of app, newest first, with where each one
// is; limit 0 leaves the number to the server.
func (c *Client) Versions(ctx context.Context, app string, limit int) ([]Version, error) {
	var out []Version
	err := c.Do(ctx, "GET", appPath(app)+"/versions"+query("limit", limitParam(limit)), nil, &out)
	return out, err
}

// Apps lists the apps of the latest policy.
func (c *Client) Apps(ctx context.Context) ([]App, error) {
	var out []App
	err := c.Do(ctx, "GET", "/api/v1/apps", nil, &out)
	return out, err
}

// Status returns what runs where for app, environment by environment.
func (c *Client) Status(ctx context.Context, app string) (AppStatus, error) {
	var out AppStatus
	err := c.Do(ctx, "GET", appPath(app)+"/status", nil, &out)
	return out, err
}

// Deploy starts a delivery, deployment or rollback of app; the returned
// Deployment is running (DeploymentEvents follows it).
func (c *Client) Deploy(ctx context.Context, app string, r DeployRequest) (Deployment, error) {
	var out Deployment
	err := c.Do(ctx, "POST", appPath(app)+"/deployments", r, &out)
	return out, err
}

// Deployment returns a deployment with its steps.
func (c *Client) Deployment(ctx context.Context, id string) (Deployment, error) {
	var out Deployment
	err := c.Do(ctx, "GET", "/api/v1/deployments/"+url.PathEscape(id), nil, &out)
	return out, err
}

// Deployments lists the deployments of app, newest first: those of env
// only unless env is "", at most limit of them (0 leaves the number to the
// server).
func (c *Client) Deployments(ctx context.Context, app, env string, limit int) ([]Deployment, error) {
	var out []Deployment
	err := c.Do(ctx, "GET", appPath(app)+"/deployments"+query("env", env, "limit", limitParam(limit)), nil, &out)
	return out, err
}

// DeploymentEvents streams the events of deployment id to fn until it
// ends (the last event has Type "end") or ctx is done.
//
// A stream cut before its end is resumed by connecting again, as Events
// does for jobs. The server then sends the deployment's events from its
// start again; DeploymentEvents passes each step event to fn once, telling
// them apart by (batch, name, result), so that a step that had started
// when the stream was cut reaches fn again only with its end. An error
// response of the server (a *StatusError) ends the stream at once.
func (c *Client) DeploymentEvents(ctx context.Context, id string, fn func(DeploymentEvent)) error {
	seen := map[stepKey]bool{}
	return resume(ctx, func() (bool, error) { return c.deploymentEvents(ctx, id, seen, fn) })
}

// stepKey tells the events of a deployment's steps apart.
type stepKey struct {
	batch        int
	name, result string
}

func (c *Client) deploymentEvents(ctx context.Context, id string, seen map[stepKey]bool, fn func(DeploymentEvent)) (bool, error) {
	resp, err := c.send(ctx, "GET", "/api/v1/deployments/"+url.PathEscape(id)+"/events", nil)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	for sc.Scan() {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var ev DeploymentEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return false, fmt.Errorf("deployment %s: events: %w", id, err)
		}
		if ev.Type == "step" && ev.Step != nil {
			k := stepKey{ev.Step.Batch, ev.Step.Name, ev.Step.Result}
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		fn(ev)
		if ev.Type == "end" {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("deployment %s: events: %w", id, err)
	}
	return false, fmt.Errorf("deployment %s: events: stream ended early", id)
}

// Approve approves a version of app for an environment that requires
// approvals.
func (c *Client) Approve(ctx context.Context, app string, r ApproveRequest) (Approval, error) {
	var out Approval
	err := c.Do(ctx, "POST", appPath(app)+"/approvals", r, &out)
	return out, err
}

// Unlock removes the lock on app's environment env, saying why, and
// returns the lock removed.
func (c *Client) Unlock(ctx context.Context, app, env, reason string) (Lock, error) {
	var out Lock
	err := c.Do(ctx, "DELETE", appPath(app)+"/locks/"+url.PathEscape(env)+query("reason", reason), nil, &out)
	return out, err
}

// CreateUser creates an API user; the response carries its token, which
// the server shows only this once.
func (c *Client) CreateUser(ctx context.Context, r UserRequest) (UserResponse, error) {
	var out UserResponse
	err := c.Do(ctx, "POST", "/api/v1/users", r, &out)
	return out, err
}

// Users lists the API users.
func (c *Client) Users(ctx context.Context) ([]User, error) {
	var out []User
	err := c.Do(ctx, "GET", "/api/v1/users", nil, &out)
	return out, err
}

// DeleteUser removes an API user: its token stops working.
func (c *Client) DeleteUser(ctx context.Context, name string) error {
	return c.Do(ctx, "DELETE", "/api/v1/users/"+url.PathEscape(name), nil, nil)
}

func appPath(app string) string { return "/api/v1/apps/" + url.PathEscape(app) }

func limitParam(n int) string {
	if n <= 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// query writes "?k=v&…" of the pairs kv whose value is not empty; "" when
// none is.
func query(kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
