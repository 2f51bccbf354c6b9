package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/phenixhq/phenix/internal/sqlstore"
	"github.com/phenixhq/phenix/internal/sqlstoretest"
)

func TestDrifts(t *testing.T) {
	db := sqlstoretest.Open(t)
	at := func(m int) time.Time { return hostTime.Add(time.Duration(m) * time.Minute) }
	drift := func(id, host string, m int) sqlstore.Drift {
		return sqlstore.Drift{
			ID: id, HostID: host, Time: at(m), Revision: "rev1", Trigger: "watch", Result: "changed",
			Changes: `[{"promise":"file /etc/motd","diff":"-a\n+b é"}]`,
		}
	}
	ds := []sqlstore.Drift{
		drift("d1", "web-1", 1), drift("d2", "web-2", 2), drift("d3", "web-1", 3),
		drift("d4", "db-1", 3), // same time as d3: ordered by id
	}
	for _, d := range ds {
		if ok, err := db.AddDrift(t.Context(), d); err != nil || !ok {
			t.Fatalf("AddDrift(%s) = %v, %v; want stored", d.ID, ok, err)
		}
	}
	// A retried report is stored once.
	again := drift("d1", "web-1", 9)
	if ok, err := db.AddDrift(t.Context(), again); err != nil || ok {
		t.Errorf("AddDrift of a stored id = %v, %v; want not stored", ok, err)
	}
	for i := range ds {
		ds[i].Time = stored(ds[i].Time)
	}
	d1, d2, d3, d4 := ds[0], ds[1], ds[2], ds[3]

	// many is a list of hosts longer than one query takes.
	var many []string
	for i := range 1200 {
		many = append(many, fmt.Sprintf("h-%04d", i))
	}
	many = append(many, "web-1", "db-1")

	for _, tt := range []struct {
		name  string
		hosts []string
		since time.Time
		limit int
		want  []sqlstore.Drift
	}{
		{name: "all", want: []sqlstore.Drift{d4, d3, d2, d1}},
		{name: "limit", limit: 2, want: []sqlstore.Drift{d4, d3}},
		{name: "since", since: d2.Time, want: []sqlstore.Drift{d4, d3, d2}},
		{name: "since, just before", since: d2.Time.Add(-time.Nanosecond), want: []sqlstore.Drift{d4, d3, d2}},
		{name: "since, just after", since: d2.Time.Add(time.Nanosecond), want: []sqlstore.Drift{d4, d3}},
		{name: "since after the last", since: at(4)},
		{name: "one host", hosts: []string{"web-1"}, want: []sqlstore.Drift{d3, d1}},
		{name: "hosts, since, limit", hosts: []string{"web-1", "web-2", "nope"}, since: d2.Time, limit: 1, want: []sqlstore.Drift{d3}},
		{name: "no host", hosts: []string{}},
		{name: "many hosts", hosts: many, want: []sqlstore.Drift{d4, d3, d1}},
		{name: "many hosts, limit", hosts: many, limit: 2, want: []sqlstore.Drift{d4, d3}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Drifts(t.Context(), tt.hosts, tt.since, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Drifts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAddDriftInvalid(t *testing.T) {
	db := sqlstoretest.Open(t)
	for _, tt := range []struct {
		d       sqlstore.Drift
		wantErr string
	}{
		{sqlstore.Drift{HostID: "web-1", Time: hostTime}, "store drift: drift has no id"},
		{sqlstore.Drift{ID: "d1", Time: hostTime}, "store drift d1: no host"},
		{sqlstore.Drift{ID: "d1", HostID: "web-1"}, "store drift d1: no time"},
	} {
		if _, err := db.AddDrift(t.Context(), tt.d); errString(err) != tt.wantErr {
			t.Errorf("AddDrift(%+v) error = %v, want %q", tt.d, err, tt.wantErr)
		}
	}
}
