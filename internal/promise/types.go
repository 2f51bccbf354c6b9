package promise

import "sort"

// Type describes one promise type.
type Type struct {
	// Name is the YAML key that introduces the promise ("file").
	Name string
	// New returns a zero promise of this type to decode into.
	New func() Resource
	// Rooted is true when the type honours Env.Root; other types are
	// refused in a run with --root.
	Rooted bool
	// Multi is true when the subject may be a list (package: [a, b]).
	Multi bool
	// Summary is a one-line description for help texts.
	Summary string
}

// types is the registry of promise types, fixed at compile time.
var types = func() map[string]Type {
	m := map[string]Type{}
	for _, t := range []Type{
		{Name: "file", New: func() Resource { return new(File) }, Rooted: true, Summary: "a file's content, mode and owner, or its absence"},
		{Name: "directory", New: func() Resource { return new(Directory) }, Rooted: true, Summary: "a directory, optionally purged of unmanaged entries"},
		{Name: "symlink", New: func() Resource { return new(Symlink) }, Rooted: true, Summary: "a symbolic link and its target"},
		{Name: "line", New: func() Resource { return new(Line) }, Rooted: true, Summary: "one line present or absent in a file"},
		{Name: "archive", New: func() Resource { return new(Archive) }, Rooted: true, Summary: "a tar.gz or zip extracted into a directory"},
		{Name: "package", New: func() Resource { return new(Package) }, Multi: true, Summary: "system packages installed, at a version, latest or absent"},
		{Name: "service", New: func() Resource { return new(Service) }, Summary: "a service running or stopped, enabled at boot"},
		{Name: "user", New: func() Resource { return new(User) }, Summary: "a local user account"},
		{Name: "group", New: func() Resource { return new(Group) }, Summary: "a local group"},
		{Name: "exec", New: func() Resource { return new(Exec) }, Summary: "a command run under guards, or when notified"},
		{Name: "cron", New: func() Resource { return new(Cron) }, Summary: "an entry in a user's crontab"},
	} {
		m[t.Name] = t
	}
	return m
}()

// Lookup returns the promise type called name.
func Lookup(name string) (Type, bool) {
	t, ok := types[name]
	return t, ok
}

// TypeNames returns the names of all promise types, sorted.
func TypeNames() []string {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
