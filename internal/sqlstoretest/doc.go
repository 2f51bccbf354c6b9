// Package sqlstoretest gives tests a fresh, empty phenix database, as
// net/http/httptest gives them a server.
//
// By default the database is an SQLite file in t.TempDir(). When the
// environment variable PHENIX_TEST_POSTGRES holds the URL of a PostgreSQL
// database (postgres://user:password@host:port/db?sslmode=disable), each
// test gets instead a schema of its own in that database, created with a
// random name and dropped, with everything in it, when the test ends; so
// one test suite runs on both databases and tests never see each other's
// rows. The role needs the CREATE privilege on that database.
package sqlstoretest
