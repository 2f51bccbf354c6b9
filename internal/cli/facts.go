package cli

import (
	"encoding/json"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/phenixhq/phenix/internal/facts"
)

func (a *app) factsCommand() *cobra.Command {
	var asJSON bool
	var root string
	cmd := &cobra.Command{
		Use:   "facts",
		Short: "Print what phenix knows about this host",
		Long: `Print the facts phenix gathers about this host: operating system and family,
version, architecture, hostname, fqdn, addresses, CPU count, memory, kernel,
init system. Templates read them as {{ .facts.NAME }}.`,
		Example: `  phenix facts
  phenix facts --json | jq -r .os_family`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			f := facts.Gather(root)
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(f)
			}
			m := f.Map()
			keys := make([]string, 0, len(m))
			for k := range m {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v := m[k]
				if l, ok := v.([]any); ok {
					s := ""
					for i, x := range l {
						if i > 0 {
							s += " "
						}
						s += fmt.Sprint(x)
					}
					v = s
				}
				fmt.Fprintf(a.stdout, "%-12s %v\n", k, v)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON document")
	cmd.Flags().StringVar(&root, "root", "", "read operating-system facts from this root directory")
	return cmd
}
