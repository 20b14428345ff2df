package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestEnvOverrides(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "token")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	file := []byte(`node_id: from-file
pbx:
  asterisk:
    url: http://file:8088/ari
    password_file: testdata/secrets/ari-password
nats:
  token: inline-token
pipeline:
  retry: {initial: 1s, max: 10s}
`)
	tests := []struct {
		name  string
		env   []string
		check func(c Config) (got, want any)
	}{
		{"no variables keep the file", nil,
			func(c Config) (any, any) { return c.NodeID, "from-file" }},
		{"top level", []string{"RINGSIDE_NODE_ID=from-env"},
			func(c Config) (any, any) { return c.NodeID, "from-env" }},
		{"data dir", []string{"RINGSIDE_DATA_DIR=/tmp/rs"},
			func(c Config) (any, any) { return c.DataDir, "/tmp/rs" }},
		{"nested", []string{"RINGSIDE_PBX_ASTERISK_URL=https://env:8089/ari"},
			func(c Config) (any, any) { return c.PBX.Asterisk.URL, "https://env:8089/ari" }},
		{"listen also moves the derived public url", []string{"RINGSIDE_HTTP_LISTEN=:8080"},
			func(c Config) (any, any) {
				return c.HTTP.Listen + " " + c.HTTP.PublicURL, ":8080 http://localhost:8080"
			}},
		{"duration", []string{"RINGSIDE_PIPELINE_RETRY_MAX=1m30s"},
			func(c Config) (any, any) { return c.Pipeline.Retry.Max, 90 * time.Second }},
		{"number", []string{"RINGSIDE_PIPELINE_SHARDS=16", "RINGSIDE_REDIS_DB=0x3"},
			func(c Config) (any, any) { return [2]int{c.Pipeline.Shards, c.Redis.DB}, [2]int{16, 3} }},
		{"empty string", []string{"RINGSIDE_NATS_URL=", "RINGSIDE_NATS_LISTEN=127.0.0.1:4222"},
			func(c Config) (any, any) { return c.NATS.URL + "|" + c.NATS.Listen, "|127.0.0.1:4222" }},
		{"secret", []string{"RINGSIDE_ZOHO_CLIENT_SECRET=zs"},
			func(c Config) (any, any) { return c.Zoho.ClientSecret.Value(), "zs" }},
		{"secret replaces the file's secret file", []string{"RINGSIDE_PBX_ASTERISK_PASSWORD=env-pw"},
			func(c Config) (any, any) { return c.PBX.Asterisk.Password.Value(), "env-pw" }},
		{"secret file replaces the file's secret", []string{"RINGSIDE_NATS_TOKEN_FILE=" + secretFile},
			func(c Config) (any, any) { return c.NATS.Token.Value(), "from-file" }},
		{"empty secret file keeps the file's secret", []string{"RINGSIDE_NATS_TOKEN_FILE="},
			func(c Config) (any, any) { return c.NATS.Token.Value(), "inline-token" }},
		{"secret file", []string{"RINGSIDE_ZOHO_CLIENT_SECRET_FILE=" + secretFile},
			func(c Config) (any, any) { return c.Zoho.ClientSecret.Value(), "from-file" }},
		{"other variables are ignored", []string{"HOME=/root", "RINGSIDEX=1", "ringside_node_id=x"},
			func(c Config) (any, any) { return c.NodeID, "from-file" }},
		{"the last of a repeated variable wins", []string{"RINGSIDE_NODE_ID=a", "RINGSIDE_NODE_ID=b"},
			func(c Config) (any, any) { return c.NodeID, "b" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse(file, tt.env)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			got, want := tt.check(c)
			if got != want {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestEnvProblems(t *testing.T) {
	tests := []struct {
		env  []string
		want string
	}{
		{[]string{"RINGSIDE_PIPELINE_SHARDS=x"}, `RINGSIDE_PIPELINE_SHARDS: "x" is not a number`},
		{[]string{"RINGSIDE_PIPELINE_RETRY_MAX=5"}, `RINGSIDE_PIPELINE_RETRY_MAX: "5" is not a duration`},
		{[]string{"RINGSIDE_NATS_URLS=nats://x:4222"}, "RINGSIDE_NATS_URLS: unknown variable"},
		{[]string{"RINGSIDE_PBX=asterisk"}, "RINGSIDE_PBX: unknown variable"},
		{[]string{"RINGSIDE_PBX_KIND=sip"}, `pbx.kind: must be asterisk or freeswitch, got "sip"`},
		{
			[]string{"RINGSIDE_REDIS_PASSWORD=x", "RINGSIDE_REDIS_PASSWORD_FILE=/run/secrets/redis"},
			"RINGSIDE_REDIS_PASSWORD_FILE: cannot be used together with RINGSIDE_REDIS_PASSWORD",
		},
		{
			[]string{"RINGSIDE_REDIS_PASSWORD_FILE=testdata/secrets/missing"},
			`RINGSIDE_REDIS_PASSWORD_FILE: cannot read "testdata/secrets/missing": no such file or directory`,
		},
		{
			[]string{"RINGSIDE_NATS_TOKEN_FILE=testdata"},
			`RINGSIDE_NATS_TOKEN_FILE: cannot read "testdata": is a directory`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			_, err := Parse([]byte("node_id: n1\n"), tt.env)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse(env %q) = %v, want %s", tt.env, err, tt.want)
			}
		})
	}
}

// Every name EnvKeys lists is accepted, and reaches the key it names.
func TestEveryEnvKeyIsAccepted(t *testing.T) {
	for _, l := range newSchema().leaves {
		var value string
		switch l.kind {
		case kindInt:
			value = "1"
		case kindDuration:
			value = "1s"
		case kindSecretFile:
			value = "testdata/secrets/ari-password"
		default:
			continue // strings may need a format: covered by TestEnvOverrides
		}
		_, err := Parse([]byte("node_id: n1\n"), []string{l.env + "=" + value})
		if err != nil && strings.Contains(err.Error(), l.env) {
			t.Errorf("%s=%s: %v", l.env, value, err)
		}
	}
}
