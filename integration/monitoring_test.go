package integration

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	eslsim "github.com/ringside/ringside/integration/sim/esl"
)

// TestMonitoringNamesRealMetrics keeps deploy/prometheus/ringside-alerts.yml
// and deploy/grafana/ringside-dashboard.json true to the daemon: every
// ringside_ metric an alert or a panel names is in a real scrape — the demo
// (Asterisk, Zoho, webhooks, screening, portal) and `ringside serve` on
// FreeSWITCH — with every label pair it matches on.
func TestMonitoringNamesRealMetrics(t *testing.T) {
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	raw, err := os.ReadFile("../deploy/prometheus/ringside-alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{} // expression → where
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			exprs[r.Expr] = "alert " + r.Alert
		}
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if raw, err = os.ReadFile("../deploy/grafana/ringside-dashboard.json"); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs[tg.Expr] = "panel " + p.Title
		}
	}

	demo := start(t, []string{"RINGSIDE_LOG_FORMAT=json"}, "demo", "-listen", "127.0.0.1:0", "-concurrent", "4", "-speed", "50")
	var addr string
	select {
	case addr = <-demo.addr:
	case <-time.After(60 * time.Second):
		t.Fatal("demo never printed its address")
	}
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, "http://"+addr+"/readyz"); return code == 200 })
	// Calls have ended and been looked up: the call and lookup series exist.
	var scrape string
	eventually(t, 60*time.Second, "calls ended and looked up in the demo", func() bool {
		_, scrape = get(t, "http://"+addr+"/metrics")
		return metricSum(scrape, "ringside_calls_ended_total") >= 3 && metricSum(scrape, "ringside_zoho_lookups_total") >= 1
	})
	demo.terminate()

	sim, err := eslsim.Start(eslsim.Options{Password: "esl-secret", HeartbeatInterval: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	fs, base := serve(t, "pbx:\n  kind: freeswitch\n  freeswitch:\n    address: "+sim.Addr()+"\n", "RINGSIDE_PBX_FREESWITCH_PASSWORD=esl-secret")
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, base+"/readyz"); return code == 200 })
	_, fsScrape := get(t, base+"/metrics")
	fs.terminate()
	scrape += fsScrape

	selector := regexp.MustCompile(`(ringside_[a-z0-9_]+)(?:\{([^}]*)\})?`)
	pair := regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
	n := 0
	for expr, where := range exprs {
		for _, m := range selector.FindAllStringSubmatch(expr, -1) {
			n++
			if !strings.Contains(scrape, "\n"+m[1]+"{") && !strings.Contains(scrape, "\n"+m[1]+" ") {
				t.Errorf("%s: no metric %s in the scrape", where, m[1])
				continue
			}
			for _, p := range pair.FindAllStringSubmatch(m[2], -1) {
				if !regexp.MustCompile(`\n` + regexp.QuoteMeta(m[1]) + `\{[^}]*` + regexp.QuoteMeta(p[0])).MatchString(scrape) {
					t.Errorf("%s: %s has no series with %s", where, m[1], p[0])
				}
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d metric selectors in the alerts and the dashboard", n)
	}
}
