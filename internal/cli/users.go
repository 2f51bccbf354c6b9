package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/api"
)

func (a *app) usersCommand() *cobra.Command {
	var (
		cf     clientFlags
		asJSON bool
	)
	list := func(cmd *cobra.Command, args []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		us, err := c.Users(cmd.Context())
		if err != nil {
			return apiErr(err)
		}
		if asJSON {
			return printJSON(a.stdout, us)
		}
		printUsers(a.stdout, us, localClock())
		return nil
	}
	cmd := &cobra.Command{
		Use:   "users",
		Short: "List, add and remove API users",
		Long: `An API user is a name with a token: what phenix does with the token is
journaled as done by that name. Admins may also manage users, override the
lifecycle of releases and fetch artifacts. phenix users alone lists them,
as phenix users list does.`,
		Example: `  phenix users
  phenix users add alice --admin
  phenix users remove alice`,
		Args: noArgs,
		RunE: list,
	}
	cf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	listCmd := &cobra.Command{
		Use:     "list",
		Short:   "List the API users",
		Example: `  phenix users list --json | jq -r '.[] | select(.admin) | .name'`,
		Args:    noArgs,
		RunE:    list,
	}
	listCmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON")
	cmd.AddCommand(listCmd, a.usersAddCommand(&cf), a.usersRemoveCommand(&cf))
	return cmd
}

func (a *app) usersAddCommand(cf *clientFlags) *cobra.Command {
	var (
		admin  bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME",
		Short: "Create an API user and print its token",
		Long: `Add creates the API user NAME and prints its token, with the line that sets
it for the phenix CLI. The token is shown only once: the server keeps only
its hash. --admin makes the user an admin.`,
		Example: `  phenix users add alice
  phenix users add ci --json | jq -r .token`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), api.UserRequest{Name: args[0], Admin: admin})
			if err != nil {
				return apiErr(err)
			}
			if asJSON {
				return printJSON(a.stdout, u)
			}
			printUser(a.stdout, u)
			return nil
		},
	}
	cmd.Flags().BoolVar(&admin, "admin", false, "make the user an admin")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the API's JSON (the token included)")
	return cmd
}

func (a *app) usersRemoveCommand(cf *clientFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "remove NAME",
		Aliases: []string{"rm"},
		Short:   "Remove an API user: its token stops working",
		Example: `  phenix users remove alice`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0]); err != nil {
				return apiErr(err)
			}
			fmt.Fprintf(a.stdout, "removed user %s\n", args[0])
			return nil
		},
	}
	return cmd
}
