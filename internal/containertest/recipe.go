package containertest

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
)

// recipeVersion names the way images are built (tidy, import options).
// Change it whenever that changes, so that images and tarballs cached under
// the old recipe are not reused.
const recipeVersion = 1

// A recipe says how to build a Debian image; its hash names the result.
// Every image is built the same way (ensureImage): debootstrap of the
// suite with the extra packages, tidied, tarred into the cache directory and
// imported into Docker; recipes differ only in these fields.
type recipe struct {
	Image   string   // the image's name: phenix-test/IMAGE:SUITE-HASH
	Suite   string   // Debian suite, such as "bookworm"
	Variant string   // debootstrap --variant
	Mirror  string   // archive URI
	Include []string // extra packages, for debootstrap --include
}

// bookworm returns the recipe of the image DebianImage provides. The extra
// packages give a test system what phenix promises manage and minbase lacks:
// cron (crontab, the cron daemon), passwd (useradd, groupadd, chpasswd),
// adduser, procps (ps, pgrep, kill) and ca-certificates.
func bookworm() recipe {
	return recipe{
		Image:   "debian",
		Suite:   "bookworm",
		Variant: "minbase",
		Mirror:  hostMirror("bookworm"),
		Include: []string{"adduser", "ca-certificates", "cron", "passwd", "procps"},
	}
}

// bookwormHAProxy returns the recipe of the image HAProxyImage provides:
// bookworm's, plus haproxy and socat.
func bookwormHAProxy() recipe {
	r := bookworm()
	r.Image = "haproxy"
	r.Include = append(slices.Clone(r.Include), "haproxy", "socat")
	return r
}

// hash returns 8 hex digits that change with any part of the recipe. The
// image's name is not hashed (it is in the tag and the file names), so that
// the hashes of images cached before it existed still hold.
func (r recipe) hash() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "v%d\n%s\n%s\n%s\n%s\n",
		recipeVersion, r.Suite, r.Variant, r.Mirror, strings.Join(r.Include, ",")))
	return hex.EncodeToString(sum[:4])
}

// tag returns the docker image tag, such as phenix-test/debian:bookworm-1a2b3c4d.
func (r recipe) tag() string {
	return "phenix-test/" + r.Image + ":" + r.Suite + "-" + r.hash()
}

// name returns the base name of the recipe's files in the cache directory,
// such as debian-bookworm-1a2b3c4d.
func (r recipe) name() string {
	return r.Image + "-" + r.Suite + "-" + r.hash()
}
