package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const plain = "hunter2-very-secret"

func TestSecretNeverPrints(t *testing.T) {
	s := Secret(plain)
	if s.Value() != plain {
		t.Fatalf("Value() = %q", s.Value())
	}
	holder := struct{ Password Secret }{s}
	var outputs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		outputs = append(outputs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, holder), fmt.Sprintf(verb, &holder))
	}
	outputs = append(outputs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(s))
	j, _ := json.Marshal(holder)
	y, _ := yaml.Marshal(holder)
	txt, _ := s.MarshalText()
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "password", s, "holder", holder)
	outputs = append(outputs, string(j), string(y), string(txt), logged.String())
	for _, out := range outputs {
		if strings.Contains(out, plain) || strings.Contains(out, fmt.Sprintf("%x", plain)) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if got := fmt.Sprintf("%v|%+v|%#v|%s", s, s, s, s); got != "<secret>|<secret>|<secret>|<secret>" {
		t.Errorf("fmt = %s", got)
	}
	if b, _ := s.MarshalJSON(); string(b) != `"<secret>"` {
		t.Errorf("MarshalJSON = %s", b)
	}
	var decoded struct{ Password string }
	if err := json.Unmarshal(j, &decoded); err != nil || decoded.Password != "<secret>" {
		t.Errorf("json = %s (%v)", j, err)
	}
	if string(y) != "password: <secret>\n" {
		t.Errorf("yaml = %q", y)
	}
	if _, ok := any(s).(fmt.Stringer); !ok {
		t.Error("Secret is not a fmt.Stringer (zap prints Stringers with String)")
	}
}

func TestEmptySecretStaysEmpty(t *testing.T) {
	var s Secret
	if got := fmt.Sprintf("%v%s%#v", s, s, s); got != "" {
		t.Errorf("fmt of empty secret = %q", got)
	}
	if j, _ := json.Marshal(s); string(j) != `""` {
		t.Errorf("json of empty secret = %s", j)
	}
}

func TestRedactedHidesSecrets(t *testing.T) {
	c := effectiveDefault()
	c.NodeID = "n1"
	c.PBX.Asterisk.Password = plain + "-ari"
	c.PBX.FreeSWITCH.Password = plain + "-esl"
	c.NATS.Token = plain + "-nats"
	c.Redis.Password = plain + "-redis"
	c.Zoho.ClientSecret = plain + "-zoho"
	out := c.Redacted()
	if strings.Contains(out, plain) {
		t.Fatalf("Redacted() leaks a secret:\n%s", out)
	}
	if n := strings.Count(out, ": <secret>\n"); n != 5 {
		t.Errorf("Redacted() shows %d <secret>, want 5:\n%s", n, out)
	}
	for _, want := range []string{"node_id: n1\n", "  reconnect:\n    initial: 500ms\n", "max_age: 168h0m0s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted() lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "jitter") {
		t.Errorf("Redacted() shows backoff jitter, which is not a key:\n%s", out)
	}

	// Without secrets, the dump is a config file that loads back to itself.
	clear := c
	clear.PBX.Asterisk.Password, clear.PBX.FreeSWITCH.Password, clear.NATS.Token = "", "", ""
	clear.Redis.Password, clear.Zoho.ClientSecret = "", ""
	back, err := Parse([]byte(clear.Redacted()), nil)
	if err != nil {
		t.Fatalf("Parse(Redacted()): %v", err)
	}
	if !reflect.DeepEqual(back, clear) {
		t.Errorf("Redacted() does not load back:\n%s", back.Redacted())
	}
}

func TestProblemsDoNotShowSecrets(t *testing.T) {
	data := []byte("node_id: n1\nnats:\n  url: nats://user:" + plain + "@host:4222,http://" + plain + "@h:1\n")
	_, err := Parse(data, []string{"RINGSIDE_REDIS_PASSWORD=" + plain, "RINGSIDE_REDIS_PASSWORD_FILE=x"})
	if err == nil {
		t.Fatal("Parse succeeded")
	}
	if strings.Contains(err.Error(), plain) {
		t.Errorf("problem shows a secret: %v", err)
	}
}

func TestSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	crlf := write("crlf", "pw\r\n")
	inner := write("inner", "two\nlines\n\n")
	empty := write("empty", "")
	data := fmt.Sprintf(`node_id: n1
pbx:
  asterisk: {password_file: %q}
  freeswitch: {password_file: %q}
redis: {password_file: %q}
nats: {token_file: ""}
`, crlf, inner, empty)
	c, err := Parse([]byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ got, want Secret }{
		{c.PBX.Asterisk.Password, "pw"},
		{c.PBX.FreeSWITCH.Password, "two\nlines"},
		{c.Redis.Password, ""},
		{c.NATS.Token, ""},
	} {
		if tt.got.Value() != tt.want.Value() {
			t.Errorf("secret = %q, want %q", tt.got.Value(), tt.want.Value())
		}
	}
}
