// Package artifact keeps the artifacts of app versions: the archives
// uploaded to the server, stored as files named by their SHA-256 under a
// directory (the server's DATA/artifacts).
//
// An artifact is content-addressed and immutable: Store.Put streams an
// upload into a temporary file under Dir/tmp while hashing it, in one pass
// and without holding it in memory, refuses it beyond a size limit, checks
// that it is a tar, tar.gz or zip archive whose every entry is safe to
// extract (with the archive promise's rules, promise.ArchiveFormat and
// promise.InspectArchive), and only then moves it, read-only, to
// Dir/sha256/<first 2 hex digits>/<64 hex digits>. The same content
// uploaded twice, even at the same time, is stored once: the file is
// linked into place, which fails rather than replace an existing one.
//
// The store knows nothing of apps and versions: the database
// (sqlstore.Version) maps a version to its SHA-256, and Open serves the
// file to the hosts that deliver it.
package artifact
