// Package check declares and runs health checks: the probes run after a
// deployment, and on a schedule, to tell whether an application works.
//
// Checks are a YAML list, such as the checks key of an app file. Each
// check is a mapping with a name, exactly one key naming its type (http,
// tcp, command or scenario) and an optional retry:
//
//	checks:
//	  - name: home page
//	    http:
//	      url: "http://{{ .host.address }}:8080/"
//	      method: GET              # the default
//	      status: 200              # the default; or a list: [200, 204]
//	      contains: Welcome        # the body contains this text
//	      matches: 'version \d+'   # the body matches this regexp (RE2 syntax)
//	      headers:                 # request headers; Host sets the virtual host
//	        Accept: text/html
//	      response_headers:        # each response header matches its regexp
//	        Content-Type: ^text/html
//	      body: '{"ping": true}'   # a request body; or form, below
//	      timeout: 5s              # the default: request and body
//	      insecure: false          # true skips TLS certificate verification
//	      follow_redirects: false  # by default a 3xx response is judged as it is
//	    retry:
//	      interval: 1s             # the default
//	      deadline: 30s            # the default; 0s tries once
//
//	  - name: database port
//	    tcp:
//	      address: "{{ .host.address }}:5432"   # accepts a connection
//	      timeout: 5s                           # the default
//
//	  - name: app service
//	    command:
//	      argv: [systemctl, is-active, app]     # or script: run with /bin/sh -c
//	      status: 0                             # the expected exit status, the default
//	      timeout: 10s                          # the default
//
//	  - name: migrations done
//	    command:
//	      script: test -f /srv/app/current/.migrated
//
//	  - name: log in and see the account page
//	    scenario:
//	      - name: login page
//	        url: "http://{{ .host.address }}/login"
//	        capture:
//	          csrf: {regex: 'name="csrf" value="([^"]+)"'}
//	      - name: log in
//	        method: POST
//	        url: "http://{{ .host.address }}/login"
//	        form:
//	          user: "{{ .vars.check_user }}"
//	          password: "{{ .vars.check_password }}"
//	          csrf: "{{ .captures.csrf }}"
//	        status: 303
//	        capture:
//	          next: {header: Location}
//	      - name: who am I
//	        url: "http://{{ .host.address }}/api/me"
//	        capture:
//	          uid: {json: user.id}
//	      - name: account
//	        url: "http://{{ .host.address }}/users/{{ .captures.uid }}"
//	        contains: "{{ .vars.check_name }}"
//
// # Templates
//
// A URL, a request body, the values of headers and form, contains, a TCP
// address, and every argument and script of a command are Go templates
// (text/template), evaluated when the check runs with:
//
//	.host.id        the id of the host checked
//	.host.address   its address
//	.vars.NAME      the app's and the environment's vars
//	.captures.NAME  in a scenario, what the steps before captured
//
// and the functions default, upper, lower, trim and replace. Decode
// checks their syntax and the fields they name: a misspelt .host.adress,
// or a capture no earlier step makes, is an error in the file.
//
// # Scenarios
//
// A scenario is a list of steps, each an http check (with the same keys)
// plus a name and captures. The steps run in order and share a cookie
// jar, so a session cookie set by a login step is sent by the next ones.
// A step fails the scenario, and the steps after it do not run. A capture
// takes a value from the step's response by one of:
//
//	regex: 'value="([^"]+)"'   the first group of the first match, or the whole match
//	json: user.id              a field of a JSON body: a.b, items[0].name, [2]
//	header: Location           a response header
//
// # Running
//
// Run tries a check until it passes, then stops; or until its retry
// deadline, counted from the start of the first attempt, passes. A check
// that never passes makes its last attempt at the deadline, so it takes
// the deadline plus at most one attempt's timeout.
//
// A failure says what was expected and what came back:
//
//	status 502, want 200 (body "upstream connect error")
//	body does not contain "Welcome" (body "<html><title>Maintenance</title>…")
//	GET http://10.0.0.5:8080/: no response within 5s
//	exit status 3, want 0 (output "app is not running")
//	step 2 (log in): capture next: no Location header in the response
//
// An HTTP check uses no proxy, does not follow redirects unless told to,
// and reads at most the first MiB of a body. A command runs in its own
// process group, which is killed at its timeout; whatever it left running
// is killed when it exits.
package check
