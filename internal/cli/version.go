package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version is set at build time with -ldflags "-X .../cli.Version=v1.2.3";
// otherwise the module version or "dev" is shown.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// versionCommand prints phenix's version when run alone; its subcommand
// upload uploads a version of an app.
func (a *app) versionCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print phenix's version; upload a version of an app",
		Long: `Version alone prints the version of this phenix binary.

phenix version upload APP VERSION FILE uploads an artifact: a version of an
app, which phenix deliver and phenix deploy then send to the hosts.`,
		Example: `  phenix version
  phenix version upload web 1.4.2 web-1.4.2.tar.gz --note "checkout fixes"`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(a.stdout, "phenix", version())
			return nil
		},
	}
	cmd.AddCommand(a.versionUploadCommand())
	return cmd
}

func (a *app) versionUploadCommand() *cobra.Command {
	var (
		cf   clientFlags
		note string
	)
	cmd := &cobra.Command{
		Use:   "upload APP VERSION FILE",
		Short: "Upload an artifact as a version of an app",
		Long: `Upload sends FILE, an archive (tar, tar.gz or zip), to the server as VERSION
of APP ("-" reads it from standard input). A version is immutable: the
server keeps its sha256, and uploading the same content again changes
nothing, while other content under an uploaded version is refused. --note
says what the version is.

The server tells the archive's format from its content; the sha256 it
stored is checked against the one computed while sending.`,
		Example: `  phenix version upload web 1.4.2 dist/web-1.4.2.tar.gz
  phenix version upload web "$(git describe)" dist/web.tar.gz --note "$(git log -1 --format=%s)"
  git archive --format=tar.gz HEAD | phenix version upload web 1.4.3 -`,
		Args: exactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			app, ver, file := args[0], args[1], args[2]
			var (
				body io.Reader
				size int64 = -1
			)
			if file == "-" {
				body = a.stdin
			} else {
				f, err := os.Open(file)
				if err != nil {
					return badInput(err)
				}
				defer f.Close()
				st, err := f.Stat()
				if err != nil {
					return badInput(err)
				}
				if !st.Mode().IsRegular() {
					return badInput(fmt.Errorf("%s: not a regular file", file))
				}
				body, size = f, st.Size()
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			h := sha256.New()
			v, created, err := c.UploadVersion(cmd.Context(), app, ver, io.TeeReader(body, h), size, strings.TrimSpace(note))
			if err != nil {
				return apiErr(err)
			}
			if sum := hex.EncodeToString(h.Sum(nil)); created && strings.TrimPrefix(v.SHA256, "sha256:") != sum {
				return fmt.Errorf("%s %s: the server stored sha256:%s, but sha256:%s was sent", app, ver, strings.TrimPrefix(v.SHA256, "sha256:"), sum)
			}
			fmt.Fprintln(a.stdout, uploadLine(v, created))
			return nil
		},
	}
	cf.register(cmd)
	cmd.Flags().StringVar(&note, "note", "", "what the version is, `TEXT` shown by phenix versions")
	return cmd
}
