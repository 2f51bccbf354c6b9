// Package policy reads policies: what the phenix server sends its agents.
//
// A policy is a directory, usually a git repository, pushed to the server
// with "phenix policy push DIR". The server keeps it as an archive (Pack,
// FromArchive) and sends each host only its share (ForHost): the bundles
// that apply to it, their files, and its vars.
//
//	policy.yml             required: which bundles and vars apply to which hosts
//	bundles/<name>/*.yml   a bundle: its promise files, applied in name order
//	                       (*.yaml too), and the files they use (sources, templates)
//	ops/<name>.yml         operations: named, parameterised commands
//
// Directories whose name starts with a dot (.git) are not part of the
// policy. Symbolic links are followed when they stay inside the policy;
// one that leaves it, and anything but regular files and directories, is
// refused. A policy is at most 64 MiB.
//
// # policy.yml
//
//	bundles:                    # rules, in order
//	  - select: "*"
//	    apply: [base]
//	  - select: role=web,env in (prod,preprod)
//	    apply: [web]
//	vars:                       # layers, in order
//	  - select: "*"
//	    vars: {greeting: hello, port: 8080}
//	  - select: env=prod
//	    vars: {port: 80}
//	hosts:
//	  web-1:
//	    vars: {port: 8081}
//	interval: 5m
//
// Every rule whose selector (see package selector) matches a host adds its
// bundles, in file order; a bundle that several rules add is applied once,
// at its first place. Each bundle named must be a directory bundles/<name>/
// with at least one promise file.
//
// A host's vars are layered, each layer replacing whole top-level vars of
// the ones before: the bundle's own vars (its defaults) < the vars rules
// whose selector matches, in file order < hosts.<id>.vars < secrets, which
// are set on the server, never in the policy. Every key is optional;
// interval, how often agents re-converge, is a Go duration of at least 10s
// (default 5m).
//
// # Operations
//
// An operation is a command an operator runs on the hosts it selects,
// instead of logging in: ops/<name>.yml, where the name is made of
// lower-case letters, digits and -.
//
//	description: Restart the application server
//	select: role=app            # optional, default "*"; the command line may override it
//	timeout: 60s                # optional, default 5m
//	params:                     # optional, in order
//	  service:
//	    type: enum              # string (default) | int | enum
//	    values: [app, worker]   # enum only
//	    default: app
//	    description: which unit
//	  lines:
//	    type: int
//	    min: 1                  # int only, inclusive
//	    max: 100000
//	    default: 200
//	  name:
//	    type: string
//	    pattern: '^[a-z_][a-z0-9_-]{0,31}$'   # string only, a Go regexp, anchored as written
//	    required: true          # a required param has no default
//	command: ["systemctl", "restart", "{{ .params.service }}"]
//
// An op has exactly one of command and script. Each element of command is
// a Go template with .params, and becomes one argument: no shell sees it.
// A script is run with sh -c, as written: params reach it only as
// environment variables, PHENIX_PARAM_<NAME> (the name upper-cased), which
// are set for both forms, so it quotes them as shell variables:
//
//	script: |
//	  tail -n "$PHENIX_PARAM_LINES" /var/log/app.log
//
// Bind checks the arguments of a run against the params; Render gives the
// argv and environment a host runs.
//
// # Errors
//
// Load reads everything and reports every problem at once, as a
// bundle.ErrorList of file:line:column: message, with "did you mean"
// for misspelt keys and the column inside the YAML string for a bad
// selector. Bundles are checked with bundle.Parse, without the host's vars
// and facts: a template that needs them is not an error when the policy is
// pushed, but YAML, schema and template syntax errors are, and so is a
// source or template that is not a file of its own bundle (a host receives
// only the files of its bundles). See bundles.go for the details.
package policy
