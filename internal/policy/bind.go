package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Bind checks the arguments of a run of the op against its params and
// returns the value of every param: the argument, else the default, else
// "" for an optional param. An empty argument counts as not given. Each
// problem (an unknown param, a missing required one, a value that is not a
// whole number, is out of range, is not one of the enum's values or does
// not match the pattern) is an error naming the param; all are returned,
// joined.
func (o *Op) Bind(args map[string]string) (map[string]string, error) {
	var errs []error
	var names []string
	for _, p := range o.Params {
		names = append(names, p.Name)
	}
	var unknown []string
	for k := range args {
		if !slices.Contains(names, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	for _, k := range unknown {
		switch {
		case len(names) == 0:
			errs = append(errs, fmt.Errorf("unknown param %q: op %s takes no params", k, o.Name))
		case didYouMean(k, names) != "":
			errs = append(errs, fmt.Errorf("unknown param %q%s", k, didYouMean(k, names)))
		default:
			errs = append(errs, fmt.Errorf("unknown param %q: op %s takes %s", k, o.Name, strings.Join(names, ", ")))
		}
	}
	out := make(map[string]string, len(o.Params))
	for _, p := range o.Params {
		v := args[p.Name]
		if v == "" {
			v = p.Default
		}
		if v == "" {
			if p.Required {
				errs = append(errs, fmt.Errorf("param %s is required%s", p.Name, describe(p)))
			}
			out[p.Name] = ""
			continue
		}
		if err := p.check(v); err != nil {
			errs = append(errs, fmt.Errorf("param %s: %w", p.Name, err))
			continue
		}
		out[p.Name] = v
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func describe(p Param) string {
	if p.Description == "" {
		return ""
	}
	return " (" + p.Description + ")"
}

// check reports why v is not a value of p, or nil.
func (p Param) check(v string) error {
	if strings.ContainsRune(v, 0) {
		return errors.New("the value holds a NUL byte")
	}
	switch p.Type {
	case "int":
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return fmt.Errorf("expected a whole number, got %q", v)
		}
		if p.Min != nil && n < *p.Min {
			return fmt.Errorf("%d is less than the minimum, %d", n, *p.Min)
		}
		if p.Max != nil && n > *p.Max {
			return fmt.Errorf("%d is more than the maximum, %d", n, *p.Max)
		}
	case "enum":
		if !slices.Contains(p.Values, v) {
			return fmt.Errorf("%q is not one of %s", v, strings.Join(p.Values, ", "))
		}
	case "string", "":
		if p.Pattern != "" {
			re, err := regexp.Compile(p.Pattern)
			if err != nil {
				return fmt.Errorf("bad pattern %q: %v", p.Pattern, err)
			}
			if !re.MatchString(v) {
				return fmt.Errorf("%q does not match %s", v, p.Pattern)
			}
		}
	default:
		return fmt.Errorf("unknown type %q", p.Type)
	}
	return nil
}

// Render returns what a host runs for the op with params, as Bind returns
// them: argv is the command with each element executed as a template with
// .params (a param it names but params lacks is an error), or
// ["/bin/sh", "-c", Script], the script as written; env holds
// PHENIX_PARAM_<NAME>=value for each param in params that the op declares,
// in their order, for both forms. A script reads its params from env only:
// they are never put into its text.
func (o *Op) Render(params map[string]string) (argv []string, env []string, err error) {
	for _, p := range o.Params {
		v, ok := params[p.Name]
		if !ok {
			continue
		}
		if strings.ContainsRune(v, 0) {
			return nil, nil, fmt.Errorf("param %s: the value holds a NUL byte", p.Name)
		}
		env = append(env, envName(p.Name)+"="+v)
	}
	switch {
	case len(o.Command) > 0:
		argv = make([]string, len(o.Command))
		for i, c := range o.Command {
			if argv[i], err = renderArg(fmt.Sprintf("command[%d]", i), c, params); err != nil {
				return nil, nil, fmt.Errorf("op %s: command element %d: %s", o.Name, i+1, templatePrefix.ReplaceAllString(err.Error(), ""))
			}
		}
	case o.Script != "":
		argv = []string{"/bin/sh", "-c", o.Script}
	default:
		return nil, nil, fmt.Errorf("op %s has neither a command nor a script", o.Name)
	}
	return argv, env, nil
}
