package natskv

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/store"
)

// TestAuditPagesAgainstModel checks the search for a page (nthNewest) where
// the contract suite's logs are too regular to stress it: tenants append in
// bursts of every size, so their messages are spread over the stream
// anything but evenly, and random pages of each view are compared with a
// model of the log. A second store opened on the same server, as a CLI
// command opens it while the daemon runs, reads the same pages.
func TestAuditPagesAgainstModel(t *testing.T) {
	n := start(t, t.TempDir())
	defer n.stop()
	s, other := newStore(t, n.js), newStore(t, n.js)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	r := rand.New(rand.NewSource(1))
	model := map[string][]string{} // view → targets, oldest first
	for i := 0; i < 6000; {
		tenant := []string{"acme", "globex", "", "initech"}[r.Intn(4)]
		burst := 1 + r.Intn(4)
		if r.Intn(3) == 0 {
			burst = 1 + r.Intn(1500)
		}
		for range burst {
			target := fmt.Sprint(i)
			i++
			e := store.AuditEntry{Actor: "cli:root", Via: store.ViaCLI, Tenant: tenant, Action: "ext.update", Target: target}
			if _, err := s.AppendAudit(ctx, e); err != nil {
				t.Fatal(err)
			}
			model[""] = append(model[""], target)
			if tenant != "" {
				model[tenant] = append(model[tenant], target)
			}
		}
	}
	for view, want := range model {
		slices.Reverse(want)
		for i := range 60 {
			st := []*Store{s, other}[i%2]
			p := store.Page{Offset: r.Intn(len(want) + 5), Limit: 1 + r.Intn(120)}
			if i%10 == 0 {
				p.Offset = max(0, len(want)-1-r.Intn(3)) // the oldest pages
			}
			page, total, err := st.ListAudit(ctx, view, p)
			if err != nil {
				t.Fatalf("view %q %+v: %v", view, p, err)
			}
			if total != len(want) {
				t.Fatalf("view %q: total %d, want %d", view, total, len(want))
			}
			got := make([]string, len(page))
			for j, e := range page {
				got[j] = e.Target
			}
			from, to := p.Bounds(len(want))
			if !slices.Equal(got, want[from:to]) {
				t.Fatalf("view %q %+v:\n got %v\nwant %v", view, p, got, want[from:to])
			}
		}
	}
}
