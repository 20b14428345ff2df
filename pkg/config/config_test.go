package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ringside/ringside/pkg/backoff"
	"github.com/ringside/ringside/pkg/events"
)

const examplePath = "../../configs/ringside.example.yaml"

// effectiveDefault is Default() as Load returns it: with the derived values
// filled in.
func effectiveDefault() Config {
	c := Default()
	c.fill()
	return c
}

func requireHostNodeID(t *testing.T) {
	t.Helper()
	if !events.ValidToken(hostNodeID()) {
		t.Skipf("host name %q is not a valid node id", hostNodeID())
	}
}

func TestDefaultIsValid(t *testing.T) {
	requireHostNodeID(t)
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
	for _, data := range []string{"", "# only a comment\n", "---\n", "~\n"} {
		got, err := Parse([]byte(data), nil)
		if err != nil {
			t.Fatalf("Parse(%q) = %v", data, err)
		}
		if want := effectiveDefault(); !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(%q) =\n%s\nwant\n%s", data, got.Redacted(), want.Redacted())
		}
	}
	got, err := Load("", nil)
	if err != nil || !reflect.DeepEqual(got, effectiveDefault()) {
		t.Errorf(`Load("", nil) = %v, %v; want the defaults`, got.Redacted(), err)
	}
	if want := "http://127.0.0.1:9464"; got.HTTP.PublicURL != want {
		t.Errorf("derived http.public_url = %q, want %q", got.HTTP.PublicURL, want)
	}
}

// The example file sets every key to its default: loading it must give
// exactly Default(), so a default changed in code without the example (or
// the other way round) fails here.
func TestExampleFileLoadsToDefaults(t *testing.T) {
	requireHostNodeID(t)
	got, err := Load(examplePath, nil)
	if err != nil {
		t.Fatalf("Load(%s): %v", examplePath, err)
	}
	want := effectiveDefault()
	// What the example deliberately sets differently from Default(): nothing.
	if !reflect.DeepEqual(got, want) {
		t.Errorf("example file differs from Default():\n%s\nwant\n%s", got.Redacted(), want.Redacted())
	}
}

// Every key of Config (and nothing else) is written out in the example
// file, each with a comment.
func TestExampleFileDocumentsEveryKey(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			key := k.Value
			if prefix != "" {
				key = prefix + "." + key
			}
			if v.Kind == yaml.MappingNode {
				walk(v, key)
				continue
			}
			if k.LineComment == "" && v.LineComment == "" {
				t.Errorf("line %d: %s has no comment at the end of its line", k.Line, key)
			}
			documented[key] = true
		}
	}
	walk(doc.Content[0], "")

	var keys []string
	for _, l := range newSchema().leaves {
		keys = append(keys, l.key)
		if !documented[l.key] {
			t.Errorf("%s is not in %s", l.key, examplePath)
		}
	}
	for key := range documented {
		if !slices.Contains(keys, key) {
			t.Errorf("%s documents %s, which Config does not have", examplePath, key)
		}
	}
}

// Names that scripts, docs and other packages rely on (docs/DESIGN.md).
func TestContractKeys(t *testing.T) {
	s := newSchema()
	for _, key := range []string{
		"node_id", "data_dir", "http.listen", "http.public_url", "pbx.kind",
		"pbx.asterisk.url", "pbx.asterisk.username", "pbx.asterisk.password", "pbx.asterisk.app",
		"pbx.freeswitch.address", "pbx.freeswitch.password", "nats.url", "redis.addr",
		"zoho.accounts_url", "zoho.api_url", "zoho.client_id", "zoho.client_secret", "log.level",
	} {
		if s.byKey[key] == nil {
			t.Errorf("key %s is missing", key)
		}
	}
	env := EnvKeys()
	for _, name := range []string{
		"RINGSIDE_NODE_ID", "RINGSIDE_DATA_DIR", "RINGSIDE_HTTP_LISTEN", "RINGSIDE_PBX_ASTERISK_URL",
		"RINGSIDE_NATS_URL", "RINGSIDE_PIPELINE_RETRY_MAX", "RINGSIDE_ZOHO_CLIENT_SECRET_FILE",
		"RINGSIDE_PBX_ASTERISK_PASSWORD_FILE", "RINGSIDE_SHUTDOWN_DRAIN_TIMEOUT",
	} {
		if !slices.Contains(env, name) {
			t.Errorf("EnvKeys() lacks %s", name)
		}
	}
}

func TestEnvKeysAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, l := range newSchema().leaves {
		if other, dup := seen[l.env]; dup {
			t.Errorf("%s and %s both map to %s", other, l.key, l.env)
		}
		seen[l.env] = l.key
		if !strings.HasPrefix(l.env, "RINGSIDE_") {
			t.Errorf("%s maps to %s", l.key, l.env)
		}
	}
	if got, want := len(EnvKeys()), len(seen); got != want {
		t.Errorf("EnvKeys() has %d names, want %d", got, want)
	}
}

func TestGoodFiles(t *testing.T) {
	checks := map[string]func(t *testing.T, c Config){
		"empty.yaml":          func(t *testing.T, c Config) { equalDefaults(t, c) },
		"comments-only.yaml":  func(t *testing.T, c Config) { equalDefaults(t, c) },
		"empty-sections.yaml": func(t *testing.T, c Config) { equalDefaults(t, c) },
		"asterisk.yaml": func(t *testing.T, c Config) {
			want := effectiveDefault()
			want.NodeID = "pbx1"
			want.DataDir = "/srv/ringside"
			want.Log = Log{Level: "debug", Format: "json"}
			want.HTTP = HTTP{Listen: "0.0.0.0:9464", PublicURL: "https://ringside.example.com"}
			want.PBX.DefaultTenant = "acme"
			want.PBX.Asterisk.URL = "https://pbx1.example.com:8089/ari"
			want.PBX.Asterisk.Username = "zoho"
			want.PBX.Asterisk.Password = "ari-s3cret"
			want.PBX.Asterisk.App = "ringside-crm"
			want.PBX.Reconnect = backoff.Policy{Initial: time.Second, Max: time.Minute}
			want.Zoho.AccountsURL = "https://accounts.zoho.eu"
			want.Zoho.APIURL = "https://www.zohoapis.eu"
			want.Zoho.ClientID = "1000.ABC"
			want.Zoho.ClientSecret = "zoho-s3cret"
			want.Zoho.TokenKeyFile = "/etc/ringside/zoho-token.key"
			want.Zoho.PhoneBridge.LoserState = "missed"
			want.Zoho.REST.BatchSize = 50
			want.Zoho.Lookup.Modules = "Contacts, Leads"
			if got := c.Zoho.ModuleList(); !slices.Equal(got, []string{"Contacts", "Leads"}) {
				t.Errorf("ModuleList = %q", got)
			}
			equal(t, c, want)
		},
		"freeswitch-cluster.yaml": func(t *testing.T, c Config) {
			want := effectiveDefault()
			want.NodeID = "fs-01"
			want.PBX.Kind = PBXFreeSWITCH
			want.PBX.FreeSWITCH.Address, want.PBX.FreeSWITCH.Password = "[::1]:8021", "ClueCon"
			want.NATS = NATS{
				URL:             "nats://n1.example.com:4222, tls://n2.example.com:4222",
				Token:           "t0ken",
				Stream:          "RINGSIDE_CALLS",
				Replicas:        3,
				MaxAge:          720 * time.Hour,
				DuplicateWindow: 10 * time.Minute,
			}
			want.Redis = Redis{Addr: "redis.example.com:6379", Password: "r3dis", DB: 2, Prefix: "ringside:"}
			want.Pipeline = Pipeline{
				Shards: 32, Queue: 1024, PublishTimeout: 2 * time.Second,
				Retry: backoff.Policy{Initial: 50 * time.Millisecond, Max: 2 * time.Second},
			}
			want.Shutdown.DrainTimeout = 90 * time.Second
			equal(t, c, want)
			if got := c.NATS.Servers(); !slices.Equal(got, []string{"nats://n1.example.com:4222", "tls://n2.example.com:4222"}) {
				t.Errorf("Servers() = %q", got)
			}
			if c.NATS.Embedded() || c.Redis.Embedded() {
				t.Error("external NATS and Redis reported as embedded")
			}
		},
		"anchors.yaml": func(t *testing.T, c Config) {
			want := effectiveDefault()
			want.NodeID = "n1"
			want.PBX.Reconnect = backoff.Policy{Initial: 200 * time.Millisecond, Max: 2 * time.Second}
			want.Pipeline.Retry = want.PBX.Reconnect
			equal(t, c, want)
		},
	}
	files, err := filepath.Glob("testdata/good/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no good files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			check := checks[filepath.Base(file)]
			if check == nil {
				t.Fatalf("no check for %s: add one to the table", file)
			}
			if strings.Contains(file, "empty") || strings.Contains(file, "comments") {
				requireHostNodeID(t)
			}
			c, err := Load(file, nil)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			check(t, c)
		})
	}
}

func equalDefaults(t *testing.T, c Config) {
	t.Helper()
	equal(t, c, effectiveDefault())
}

func equal(t *testing.T, got, want Config) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%s\nwant\n%s", got.Redacted(), want.Redacted())
		if got.PBX.Asterisk.Password != want.PBX.Asterisk.Password ||
			got.Zoho.ClientSecret != want.Zoho.ClientSecret {
			t.Errorf("secrets differ")
		}
	}
}

// Each bad file pins its exact problems in "# error: " comment lines, in the
// order they are reported.
func TestBadFiles(t *testing.T) {
	requireHostNodeID(t)
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad files: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for line := range strings.SplitSeq(string(data), "\n") {
				if msg, ok := strings.CutPrefix(line, "# error: "); ok {
					want = append(want, msg)
				}
			}
			if len(want) == 0 {
				t.Fatalf("%s has no '# error: ' line", file)
			}
			c, err := Load(file, nil)
			if err == nil {
				t.Fatalf("Load succeeded:\n%s", c.Redacted())
			}
			if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load("testdata/does-not-exist.yaml", nil)
	if err == nil || !os.IsNotExist(err) {
		t.Errorf("Load(missing) = %v, want a not-exist error", err)
	}
}

// Problems from every stage — decoding, environment, secret files,
// validation — come back together.
func TestEveryProblemAtOnce(t *testing.T) {
	data := []byte(`node_id: n1
pbx:
  kind: sip
  asterisk:
    urll: http://x
nats:
  replicas: three
zoho:
  client_secret_file: testdata/secrets/missing
pipeline:
  shards: 0
`)
	env := []string{
		"PATH=/usr/bin",
		"RINGSIDE_PIPELINE_QUEUE=x",
		"RINGSIDE_NATS_URLL=nats://x:4222",
		"RINGSIDE_LOG_LEVEL=loud",
	}
	_, err := Parse(data, env)
	want := []string{
		"line 5: unknown key pbx.asterisk.urll",
		`line 7: nats.replicas: cannot use "three" as a number`,
		"RINGSIDE_NATS_URLL: unknown variable",
		`RINGSIDE_PIPELINE_QUEUE: "x" is not a number`,
		`line 9: zoho.client_secret_file: cannot read "testdata/secrets/missing": no such file or directory`,
		`log.level: must be debug, info, warn or error, got "loud"`,
		`pbx.kind: must be asterisk or freeswitch, got "sip"`,
		"pipeline.shards: must be between 1 and 256, got 0",
	}
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if got := strings.Split(err.Error(), "\n"); !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n := len(err.(interface{ Unwrap() []error }).Unwrap()); n != len(want) {
		t.Errorf("joined %d errors, want %d", n, len(want))
	}
}

func TestValidateNamesKeys(t *testing.T) {
	c := effectiveDefault()
	c.NodeID = "n1"
	c.PBX.Kind = "sip"
	c.Pipeline.Queue = 0
	err := c.Validate()
	want := "pbx.kind: must be asterisk or freeswitch, got \"sip\"\npipeline.queue: must be between 1 and 65536, got 0"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want\n%s", err, want)
	}
}
