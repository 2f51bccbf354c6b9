// Package bundle reads bundles: YAML files of promises.
//
// A bundle is a mapping with two keys, vars and promises:
//
//	vars:
//	  port: 8080
//	promises:
//	  - file: /etc/app.conf
//	    template: app.conf.tmpl
//	    notify: [service:app]
//
// Each promise is a mapping with exactly one key naming its type, whose
// value is its subject, plus the type's attributes and the relations
// require, before and notify. String values are Go templates evaluated with
// .vars and .facts when they contain "{{".
//
// Load reports every problem it finds, not only the first, each as
// file:line:column: message, and returns no promise at all when there is
// one: nothing is applied from a bundle with an error.
package bundle
