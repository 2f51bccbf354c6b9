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
//	apps/<name>.yml        apps: what is released, version by version, to
//	                       environments (*.yaml too)…
//	apps/<name>/           …and the config templates the app file names
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
// # Apps
//
// An app is something released, version by version, to environments in a
// fixed order (the lifecycle): apps/<name>.yml, where the name is made of
// lower-case letters, digits and -. The config templates it names are
// files under apps/<name>/, beside it; a directory there without its app
// file is an error. Every key but environments is optional:
//
//	# apps/shop.yml
//	description: The shop's web front end
//	dir: /opt/phenix/apps/shop          # default /opt/phenix/apps/<name>
//	artifact:
//	  strip: 1                          # leading path components dropped from archive entries (default 0)
//	owner: shop                         # owner and group of extracted entries and rendered files
//	group: shop
//	keep: 5                             # releases kept on each host, current included: default 5, at least 2
//	vars: {port: 8080}
//	config:                             # rendered into each release before it is switched, in order
//	  - path: config/app.env            # relative to the release directory, or absolute
//	    template: app.env.tmpl          # the file apps/shop/app.env.tmpl
//	    mode: "0640"                    # octal, default "0644"
//	  - path: VERSION.txt
//	    content: "{{ .version }} on {{ .env }}\n"
//	service:                            # a service promise (see package promise)
//	  provider: supervisor
//	  command: ["{{ .current }}/bin/shop", "--listen", ":{{ .vars.port }}"]
//	restart: restart                    # restart (default) | reload | none
//	hooks:
//	  migrate:                          # once per deployment, before the first batch
//	    - name: database migrations
//	      on: one                       # each (default) | one | server
//	      command: ["{{ .release }}/bin/shop", "migrate"]
//	      timeout: 10m                  # default 5m
//	  pre:                              # before each batch is switched
//	    - name: out of the load balancer
//	      on: server
//	      script: echo "set server web/{{ range .hosts }}{{ .id }} {{ end }}state maint" | socat stdio tcp:lb:9999
//	  post:                             # after each batch passed its checks
//	    - name: back into the load balancer
//	      on: server
//	      script: echo "set server web/{{ range .hosts }}{{ .id }} {{ end }}state ready" | socat stdio tcp:lb:9999
//	checks:                             # see package check
//	  - name: health
//	    http: {url: "http://{{ .host.address }}:{{ .vars.port }}/health", contains: ok}
//	check_every: 1m                     # default 5m; 0s: only after a deploy
//	environments:                       # the lifecycle, in this order
//	  alpha:   {select: env=alpha, batch: "100%"}
//	  preprod: {select: env=preprod}
//	  prod:
//	    select: env=prod                # required
//	    batch: 25%                      # N hosts or N% of them at a time, default 1
//	    max_fail: 0                     # N or N% of the hosts that may fail, default 0
//	    approval: true                  # a version needs "phenix approve" first
//	    deployers: [alice, ci]          # who may deliver, deploy, roll back; default anyone
//	    approvers: [bob]                # who may approve; default admins only
//	    vars: {port: 80}                # over the app's vars
//
// Each host keeps the app in dir: one directory per version under
// releases/, and current, the release in use. A release is the version's
// artifact unpacked (artifact.strip drops leading directories of its
// entries, as tar --strip-components does), owned by owner and group when
// given, with its config files rendered into it; activating it switches
// current and then restarts or reloads the service, or leaves it alone
// (restart: none, or no service). keep releases stay on disk, the current
// one included, so that a rollback is one switch.
//
// config lists files rendered into each release before it is switched:
// path is relative to the release directory, and may not leave it, or
// absolute; the template is either template: FILE, a file under
// apps/<name>/ read from the policy (so the server, which has only the
// archive, has it too), or content: TEXT, never both; mode is octal.
//
// service is a service promise, with the keys of package promise's service
// (service, state, enabled, on_notify, provider, command, env, user, cwd,
// log, pidfile, reload_signal, stop_signal, stop_timeout); service, its
// name, defaults to the app's. Its values are templates.
//
// hooks run around each batch of a deployment; each has a name, as the
// journal shows it, and exactly one of command (a list, each element a
// template and one argument) and script (a template run with /bin/sh -c).
// on says where: each, every host of the batch (the default); one, one host
// of it; server, the phenix server, once per batch. migrate hooks run once
// per deployment, after delivery and before the first batch, and only when
// declared; on then picks among the environment's hosts. pre hooks run
// before each batch is switched, post hooks once it passed its checks.
//
// checks (see package check) run against each host of a batch after it is
// switched, and then every check_every (at least 10s, or 0s for never)
// while the version is current.
//
// environments is a mapping, in lifecycle order: a version is deployed to
// an environment only after it passed the one before. Each environment's
// name is made of lower-case letters, digits and -, and its select, a
// selector as in policy.yml, picks its hosts. batch is how many hosts are
// switched at a time, N (at least 1) or N% (1% to 100%) of the
// environment's hosts; max_fail how many may fail, N or N% (from 0), before
// the deployment stops. deployers may deliver, deploy and roll back (any
// user when empty; admins always may); approvers may approve a version for
// an environment with approval: true (admins only when empty).
//
// Config files, the service's values and hooks are Go templates, with the
// functions of bundle templates (default, upper, lower, trim, join, quote,
// replace, indent). On hosts (config, service, hooks with on: each or one)
// they see .app, .env, .version, .dir, .release (this release's directory),
// .current (dir/current), .previous (the version current pointed to
// before the switch, "" when none), .host.id, .host.address and .vars: the
// host's policy vars, under the app's vars, under the environment's (each
// top-level var replacing the one below), under the host's secrets. Server
// hooks see .app, .env, .version, .previous (the environment's version
// before the deployment), .vars (the app's and the environment's), .hosts (the batch's hosts, each with .id and .address)
// and .batch (its number, from 1). Checks see .host.id, .host.address and
// .vars. Templates are parsed when the policy is loaded, so that a syntax
// error is reported at its place; a missing var is an error only when they
// are rendered.
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
