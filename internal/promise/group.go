package promise

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Group promises a local group, or its absence.
//
//   - group: deploy
//     gid: 1500
//     members: [alice, bob]
//
// Check reads /etc/group; Apply runs groupadd, groupmod, groupdel and, for
// members, gpasswd -M. members, when given, is the exact member list
// ([] for none); left out, members are not managed, which suits users that
// name their groups themselves. system only matters when the group is
// created.
type Group struct {
	Name    string     `yaml:"group"`
	State   string     `yaml:"state"` // present (default) or absent
	GID     *int       `yaml:"gid"`
	System  bool       `yaml:"system"`
	Members StringList `yaml:"members"`
}

var (
	_ Resource     = (*Group)(nil)
	_ Validator    = (*Group)(nil)
	_ Serializer   = (*Group)(nil)
	_ AutoRequirer = (*Group)(nil)
)

// Validate checks the attributes.
func (g *Group) Validate() []FieldError {
	errs := checkState(g.State, "present", "absent")
	errs = append(errs, checkAccountName("group", g.Name)...)
	if g.GID != nil && (*g.GID < 0 || int64(*g.GID) > 1<<32-2) {
		errs = append(errs, Errf("gid", "%d is out of range", *g.GID))
	}
	for _, m := range g.Members {
		errs = append(errs, checkAccountName("members", m)...)
	}
	if g.State == "absent" && (g.GID != nil || g.Members != nil) {
		errs = append(errs, Errf("state", "an absent group takes no gid or members"))
	}
	return errs
}

// SerialKey makes user and group promises run one at a time.
func (g *Group) SerialKey() string { return "passwd" }

// AutoRequire orders the removal of a group after the removal of the user
// named like it, whose primary group it usually is: groupdel refuses to
// remove a user's primary group.
func (g *Group) AutoRequire() []Ref {
	if g.State == "absent" {
		return []Ref{{Type: "user", Subject: g.Name}}
	}
	return nil
}

// Check compares the group with the promise.
func (g *Group) Check(ctx context.Context, env *Env) (*Diff, error) {
	groups, err := readGroups("/etc/group")
	if err != nil {
		return nil, err
	}
	cur, exists := findGroup(groups, g.Name)
	d := &Diff{}
	if g.State == "absent" {
		if exists {
			d.Add("state", "present", "absent")
			d.Command = shellJoin([]string{"groupdel", g.Name})
		}
		return d, nil
	}
	var cmds []string
	if !exists {
		d.Add("state", "absent", "present")
		cmds = append(cmds, shellJoin(g.createArgs()))
	}
	if g.GID != nil && (!exists || cur.gid != *g.GID) {
		d.Add("gid", ifExists(exists, strconv.Itoa(cur.gid)), strconv.Itoa(*g.GID))
		if exists {
			cmds = append(cmds, shellJoin([]string{"groupmod", "--gid", strconv.Itoa(*g.GID), g.Name}))
		}
	}
	if g.Members != nil {
		have, want := sortedSet(cur.members), sortedSet(g.Members)
		if !slices.Equal(have, want) && (exists || len(want) > 0) {
			d.Add("members", strings.Join(have, ","), strings.Join(want, ","))
			cmds = append(cmds, shellJoin(g.membersArgs()))
		}
	}
	d.Command = strings.Join(cmds, " && ")
	return d, nil
}

func (g *Group) createArgs() []string {
	argv := []string{"groupadd"}
	if g.System {
		argv = append(argv, "--system")
	}
	if g.GID != nil {
		argv = append(argv, "--gid", strconv.Itoa(*g.GID))
	}
	return append(argv, g.Name)
}

func (g *Group) membersArgs() []string {
	return []string{"gpasswd", "-M", strings.Join(sortedSet(g.Members), ","), g.Name}
}

// Apply creates, changes or removes the group.
func (g *Group) Apply(ctx context.Context, env *Env, d *Diff) error {
	if g.State == "absent" {
		_, err := runAccountCommand(ctx, "groupdel", g.Name)
		return err
	}
	var cmds [][]string
	switch {
	case d.Has("state"):
		cmds = append(cmds, g.createArgs())
	case d.Has("gid"):
		cmds = append(cmds, []string{"groupmod", "--gid", strconv.Itoa(*g.GID), g.Name})
	}
	if d.Has("members") {
		cmds = append(cmds, g.membersArgs())
	}
	for _, argv := range cmds {
		if _, err := runAccountCommand(ctx, argv...); err != nil {
			return err
		}
	}
	return nil
}
