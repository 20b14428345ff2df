package integration

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	eslsim "github.com/ringside/ringside/integration/sim/esl"
)

// TestAlertRulesNameRealMetrics keeps deploy/prometheus/ringside-alerts.yml
// true to the daemon: every ringside_ metric an alert expression names is
// in a real scrape — the demo (Asterisk, Zoho, webhooks, screening, portal)
// and `ringside serve` on FreeSWITCH — with every label pair it matches on.
func TestAlertRulesNameRealMetrics(t *testing.T) {
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

	demo := start(t, []string{"RINGSIDE_LOG_FORMAT=json"}, "demo", "-listen", "127.0.0.1:0", "-concurrent", "4", "-speed", "50")
	var addr string
	select {
	case addr = <-demo.addr:
	case <-time.After(60 * time.Second):
		t.Fatal("demo never printed its address")
	}
	eventually(t, 30*time.Second, "/readyz 200", func() bool { code, _ := get(t, "http://"+addr+"/readyz"); return code == 200 })
	_, scrape := get(t, "http://"+addr+"/metrics")
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
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range selector.FindAllStringSubmatch(r.Expr, -1) {
				n++
				if !strings.Contains(scrape, "\n"+m[1]+"{") && !strings.Contains(scrape, "\n"+m[1]+" ") {
					t.Errorf("alert %s: no metric %s in the scrape", r.Alert, m[1])
					continue
				}
				for _, p := range pair.FindAllStringSubmatch(m[2], -1) {
					if !regexp.MustCompile(`\n` + regexp.QuoteMeta(m[1]) + `\{[^}]*` + regexp.QuoteMeta(p[0])).MatchString(scrape) {
						t.Errorf("alert %s: %s has no series with %s", r.Alert, m[1], p[0])
					}
				}
			}
		}
	}
	if n < 8 {
		t.Errorf("only %d metric selectors in the alert rules", n)
	}
}
