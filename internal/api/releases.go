package api

import "time"

// Release routes (see the package documentation for the others):
//
//	GET    /api/v1/apps                              → []App of the latest policy
//	PUT    /api/v1/apps/{app}/versions/{version}     artifact body, X-Phenix-Note → Version (201 new, 200 the same again, 409 other content)
//	GET    /api/v1/apps/{app}/versions?limit=N       → []Version, newest first, with where each one is
//	GET    /api/v1/apps/{app}/status                 → AppStatus
//	POST   /api/v1/apps/{app}/deployments            DeployRequest → Deployment (202, running; 409 locked or refused by the lifecycle)
//	GET    /api/v1/apps/{app}/deployments?env=E&limit=N → []Deployment, newest first
//	GET    /api/v1/deployments/{id}                  → Deployment
//	GET    /api/v1/deployments/{id}/events           → newline-delimited DeploymentEvent until it ends
//	POST   /api/v1/apps/{app}/approvals              ApproveRequest → Approval
//	DELETE /api/v1/apps/{app}/locks/{env}?reason=R   → Lock (the one removed)
//	GET    /api/v1/artifacts/{sha256}                the artifact; for hosts (client certificate) and admins
//	POST   /api/v1/users                             UserRequest → UserResponse (admins)
//	GET    /api/v1/users                             → []User
//	DELETE /api/v1/users/{name}                      → 204

// Deployment kinds.
const (
	KindDeliver  = "deliver"
	KindDeploy   = "deploy"
	KindRollback = "rollback"
)

// Deployment states.
const (
	StateRunning = "running"
	StateOK      = "ok"
	StateFailed  = "failed"
)

// App is an app of the latest policy.
type App struct {
	Name         string   `json:"name"`
	Description  string   `json:"description,omitempty"`
	Environments []string `json:"environments"` // in lifecycle order
}

// Version is an uploaded version of an app and where it is.
type Version struct {
	App       string    `json:"app"`
	Version   string    `json:"version"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Format    string    `json:"format"` // tar, tar.gz, zip
	Note      string    `json:"note,omitempty"`
	Actor     string    `json:"actor"`
	CreatedAt time.Time `json:"created_at"`
	Current   []string  `json:"current,omitempty"`   // environments it is deployed on now
	Delivered []string  `json:"delivered,omitempty"` // environments it is staged on
	Passed    []string  `json:"passed,omitempty"`    // environments where a deployment of it passed its checks
	Approved  []string  `json:"approved,omitempty"`  // environments that approved it
}

// DeployRequest delivers, deploys or rolls back a version on an
// environment.
type DeployRequest struct {
	Kind    string `json:"kind"` // deliver, deploy, rollback
	Env     string `json:"env"`
	Version string `json:"version,omitempty"` // rollback: "" for the environment's previous version
	// Override skips the lifecycle (a version not yet passed in the
	// environment before, or not approved): admins only, with Reason.
	Override bool   `json:"override,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Batch    string `json:"batch,omitempty"` // N or N%: the environment's batch size otherwise
}

// Deployment is one deliver, deploy or rollback of an app on an
// environment, with what happened batch by batch.
type Deployment struct {
	ID        string       `json:"id"`
	App       string       `json:"app"`
	Env       string       `json:"env"`
	Kind      string       `json:"kind"`
	Version   string       `json:"version"`
	Previous  string       `json:"previous,omitempty"` // the environment's version before
	Actor     string       `json:"actor"`
	Override  string       `json:"override,omitempty"` // the reason given to skip the lifecycle
	State     string       `json:"state"`              // running, ok, failed
	Summary   string       `json:"summary,omitempty"`  // one line; the reason when it failed
	Hosts     []string     `json:"hosts"`
	CreatedAt time.Time    `json:"created_at"`
	EndedAt   time.Time    `json:"ended_at,omitzero"`
	Steps     []DeployStep `json:"steps,omitempty"` // deliver and migrate steps, and those of every batch, in order
}

// DeployStep is one step of a deployment: a job on hosts or a hook run on
// the server.
type DeployStep struct {
	Batch     int        `json:"batch,omitempty"` // 1-based; 0 for the steps before the batches
	Name      string     `json:"name"`            // deliver, migrate: NAME, pre: NAME, activate, post: NAME, rollback
	Where     string     `json:"where"`           // server, or the hosts
	Job       string     `json:"job,omitempty"`   // the job that ran it on hosts
	Result    string     `json:"result"`          // running, ok, failed
	Summary   string     `json:"summary,omitempty"`
	Output    string     `json:"output,omitempty"` // a server hook's output
	StartedAt time.Time  `json:"started_at"`
	Duration  Duration   `json:"duration"`
	Hosts     []HostStep `json:"hosts,omitempty"`
}

// HostStep is what one host did in a step.
type HostStep struct {
	Host     string        `json:"host"`
	Status   string        `json:"status"` // a job result status: ok, changed, failed, timeout, unreachable
	Error    string        `json:"error,omitempty"`
	Duration Duration      `json:"duration"`
	Checks   []CheckResult `json:"checks,omitempty"`
}

// CheckResult is the outcome of one check on one host.
type CheckResult struct {
	Name     string   `json:"name"`
	OK       bool     `json:"ok"`
	Attempts int      `json:"attempts"`
	Duration Duration `json:"duration"`
	Error    string   `json:"error,omitempty"`
}

// DeploymentEvent is one line of GET /deployments/{id}/events.
type DeploymentEvent struct {
	Type       string      `json:"type"` // step (started or ended), end
	Step       *DeployStep `json:"step,omitempty"`
	Deployment *Deployment `json:"deployment,omitempty"` // end
}

// AppStatus is the table of an app's environments: what runs where.
type AppStatus struct {
	App  string      `json:"app"`
	Envs []EnvStatus `json:"envs"` // in lifecycle order
}

// EnvStatus is one environment of an app.
type EnvStatus struct {
	Env       string       `json:"env"`
	Selector  string       `json:"selector"`
	Hosts     int          `json:"hosts"`
	Current   string       `json:"current,omitempty"`   // the version deployed
	Previous  string       `json:"previous,omitempty"`  // the one before it, where rollback goes
	Delivered string       `json:"delivered,omitempty"` // the version last staged, when it is not current
	Approval  bool         `json:"approval,omitempty"`  // deploys need an approval
	Last      *Deployment  `json:"last,omitempty"`      // without its steps
	Lock      *Lock        `json:"lock,omitempty"`
	Check     *CheckStatus `json:"check,omitempty"` // the latest scheduled check
}

// CheckStatus is the latest run of an environment's checks.
type CheckStatus struct {
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Summary string    `json:"summary"`
}

// Lock is held by the deployment running on an app's environment.
type Lock struct {
	App        string    `json:"app"`
	Env        string    `json:"env"`
	Deployment string    `json:"deployment"`
	Actor      string    `json:"actor"`
	Reason     string    `json:"reason"` // e.g. "deploy 1.4.2"
	Since      time.Time `json:"since"`
	Expires    time.Time `json:"expires"` // renewed while the deployment runs
}

// ApproveRequest approves a version for an environment.
type ApproveRequest struct {
	Env     string `json:"env"`
	Version string `json:"version"`
	Note    string `json:"note,omitempty"`
}

// Approval lets a version be deployed to an environment that requires
// one.
type Approval struct {
	App       string    `json:"app"`
	Env       string    `json:"env"`
	Version   string    `json:"version"`
	Actor     string    `json:"actor"`
	Note      string    `json:"note,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// UserRequest creates an API user.
type UserRequest struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin,omitempty"`
}

// User is an API user: the actor its token acts as.
type User struct {
	Name      string    `json:"name"`
	Admin     bool      `json:"admin"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
}

// UserResponse carries a new user's token, shown once.
type UserResponse struct {
	User
	Token string `json:"token"`
}
