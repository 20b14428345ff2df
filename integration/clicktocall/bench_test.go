package clicktocall

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	arisim "github.com/ringside/ringside/integration/sim/ari"
	"github.com/ringside/ringside/pkg/config"
)

// BenchmarkClickToOriginate measures the time from Zoho's click-to-dial
// request (HTTP POST to the handler) to the leg-A originate request
// (POST /ari/channels/c2c-<id>-a) reaching Asterisk: authentication against
// the embedded store, the double-click claim, terminal lookup, the
// originate command over NATS request/reply, the node and the adapter. A
// proxy in front of the ARI simulator timestamps the originate. One op is
// one click, one at a time; p50 and p99 are reported (target p99 ≤ 50 ms).
func BenchmarkClickToOriginate(b *testing.B) {
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	var proxy *httptest.Server
	w := newWorldVia(b, config.PBXAsterisk, func(ari string) string {
		u, _ := url.Parse(ari)
		u.Path = ""
		rp := httputil.NewSingleHostReverseProxy(u)
		proxy = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if id, ok := strings.CutPrefix(r.URL.Path, "/ari/channels/c2c-"); ok && r.Method == http.MethodPost && strings.HasSuffix(id, "-a") {
				now := time.Now()
				mu.Lock()
				arrived[strings.TrimSuffix(id, "-a")] = now
				mu.Unlock()
			}
			rp.ServeHTTP(rw, r)
		}))
		return proxy.URL + "/ari"
	})
	b.Cleanup(proxy.Close)
	// The terminal is busy, so every call ends at once and the PBX stays
	// empty; the originate request is what is timed.
	w.ari.SetBehavior("PJSIP/1001", arisim.Behavior{Outcome: "busy", Ring: time.Millisecond})
	client := &http.Client{}
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		id := fmt.Sprintf("t%d", i+1)
		form := url.Values{"zohouser": {zohoUser}, "tonumber": {fmt.Sprintf("+4930%07d", i)}, "ringside_auth": {w.secret}}
		start := time.Now()
		resp, err := client.PostForm(w.base+"/zoho/acme/clicktodial", form)
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("click: %d", resp.StatusCode)
		}
		var at time.Time
		for deadline := time.Now().Add(5 * time.Second); at.IsZero(); {
			mu.Lock()
			at = arrived[id]
			mu.Unlock()
			if at.IsZero() {
				if time.Now().After(deadline) {
					b.Fatalf("originate of %s never reached Asterisk", id)
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
		lat = append(lat, at.Sub(start))
	}
	b.StopTimer()
	client.CloseIdleConnections()
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	b.ReportMetric(q(0.5), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
}
