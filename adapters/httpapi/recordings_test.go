package httpapi

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/events"
)

type recFixture struct {
	h     *harness
	rec   *Recordings
	root  string
	other string // a directory outside every root
	now   time.Time
	audio []byte
}

func newRecFixture(t *testing.T) *recFixture {
	t.Helper()
	base := t.TempDir()
	f := &recFixture{root: filepath.Join(base, "monitor"), other: filepath.Join(base, "secret"),
		now: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}
	for _, d := range []string{f.root, filepath.Join(f.root, "2026", "03"), f.other} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	f.audio = bytes.Repeat([]byte("RIFF0123456789abcdef"), 1000) // 20,000 bytes
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(f.root, "2026", "03", "call-42.wav"), f.audio)
	write(filepath.Join(f.root, "call-43.mp3"), []byte("ID3mp3"))
	write(filepath.Join(f.other, "passwd.wav"), []byte("top secret"))
	if err := os.Symlink(filepath.Join(f.other, "passwd.wav"), filepath.Join(f.root, "escape.wav")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(f.root, "call-43.mp3"), filepath.Join(f.root, "inside.mp3")); err != nil {
		t.Fatal(err)
	}
	key := bytes.Repeat([]byte{7}, 32)
	rec, err := NewRecordings(RecordingsOptions{Dirs: []string{"/nonexistent/ringside", f.root}, Key: key,
		PublicURL: "https://pbx.example.com/", TTL: time.Hour, Now: func() time.Time { return f.now }})
	if err != nil {
		t.Fatal(err)
	}
	f.rec = rec
	f.h = start(t, nil, func(s *Server) { s.Handle("GET /recordings/{token}", rec) })
	return f
}

// get fetches a link with optional extra headers.
func (f *recFixture) get(t *testing.T, method, link string, hdr ...string) (int, []byte, http.Header) {
	t.Helper()
	path := strings.TrimPrefix(link, "https://pbx.example.com")
	req, err := http.NewRequest(method, f.h.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := f.h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func TestRecordingServedWithRange(t *testing.T) {
	f := newRecFixture(t)
	link, err := f.rec.Link("acme", "pbx-01-1736935200.42", filepath.Join(f.root, "2026/03/call-42.wav"), 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "https://pbx.example.com/recordings/") {
		t.Fatalf("link = %s", link)
	}
	code, body, h := f.get(t, http.MethodGet, link)
	if code != 200 || !bytes.Equal(body, f.audio) {
		t.Fatalf("GET = %d, %d bytes", code, len(body))
	}
	if ct := h.Get("Content-Type"); ct != "audio/wav" {
		t.Errorf("Content-Type = %q", ct)
	}
	if h.Get("Accept-Ranges") != "bytes" || !strings.Contains(h.Get("Content-Disposition"), "pbx-01-1736935200.42.wav") {
		t.Errorf("headers = %v", h)
	}

	code, body, h = f.get(t, http.MethodGet, link, "Range", "bytes=100-199")
	if code != http.StatusPartialContent || !bytes.Equal(body, f.audio[100:200]) {
		t.Fatalf("Range = %d, %q", code, body)
	}
	if cr := h.Get("Content-Range"); cr != "bytes 100-199/20000" {
		t.Errorf("Content-Range = %q", cr)
	}
	code, body, _ = f.get(t, http.MethodGet, link, "Range", "bytes=-10")
	if code != http.StatusPartialContent || !bytes.Equal(body, f.audio[len(f.audio)-10:]) {
		t.Fatalf("suffix Range = %d, %q", code, body)
	}
	code, _, _ = f.get(t, http.MethodGet, link, "Range", "bytes=30000-")
	if code != http.StatusRequestedRangeNotSatisfiable {
		t.Fatalf("unsatisfiable Range = %d", code)
	}
	code, body, h = f.get(t, http.MethodHead, link)
	if code != 200 || len(body) != 0 || h.Get("Content-Length") != "20000" {
		t.Fatalf("HEAD = %d, %d bytes, length %q", code, len(body), h.Get("Content-Length"))
	}

	mp3, _ := f.rec.Link("acme", "c43", filepath.Join(f.root, "call-43.mp3"), 0)
	if code, body, h = f.get(t, http.MethodGet, mp3); code != 200 || string(body) != "ID3mp3" || h.Get("Content-Type") != "audio/mpeg" {
		t.Fatalf("mp3 = %d %q %q", code, body, h.Get("Content-Type"))
	}
	// A symlink that stays inside the directory is fine.
	in, _ := f.rec.Link("acme", "c43", filepath.Join(f.root, "inside.mp3"), 0)
	if code, _, _ = f.get(t, http.MethodGet, in); code != 200 {
		t.Fatalf("inside symlink = %d", code)
	}
}

func TestRecordingRefusals(t *testing.T) {
	f := newRecFixture(t)
	good, err := f.rec.Token("acme", "c42", filepath.Join(f.root, "2026/03/call-42.wav"), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	payload, sig, _ := strings.Cut(good, ".")
	other, _ := NewRecordings(RecordingsOptions{Dirs: []string{f.root}, Key: bytes.Repeat([]byte{8}, 32),
		Now: func() time.Time { return f.now }})
	forged, _ := other.Token("acme", "c42", filepath.Join(f.root, "2026/03/call-42.wav"), time.Minute)
	// Tokens for paths Link refuses, signed by hand with the right key.
	craft := func(rel string) string {
		p := []byte(`{"t":"acme","c":"x","p":"` + rel + `","e":` + "9999999999" + `}`)
		return b64(p) + "." + b64(f.rec.sign(p))
	}
	flip := []byte(sig)
	if flip[0] == 'A' {
		flip[0] = 'B'
	} else {
		flip[0] = 'A'
	}
	cases := []struct {
		name, token string
		want        int
	}{
		{"wrong signature", payload + "." + string(flip), 403},
		{"other key", forged, 403},
		{"garbage", "not-a-token", 404},
		{"dot dot", craft("../secret/passwd.wav"), 404},
		{"dot dot inside", craft("2026/../../secret/passwd.wav"), 404},
		{"absolute", craft(filepath.Join(f.other, "passwd.wav")), 404},
		{"symlink escape", craft("escape.wav"), 404},
		{"directory", craft("2026"), 404},
		{"missing", craft("nope.wav"), 404},
	}
	for _, c := range cases {
		code, body, _ := f.get(t, http.MethodGet, "/recordings/"+c.token)
		if code != c.want {
			t.Errorf("%s: status %d, want %d", c.name, code, c.want)
		}
		if strings.Contains(string(body), f.root) || strings.Contains(string(body), "secret") || strings.Contains(string(body), "passwd") {
			t.Errorf("%s: body leaks a path: %q", c.name, body)
		}
	}
	// Expired.
	f.now = f.now.Add(2 * time.Minute)
	if code, _, _ := f.get(t, http.MethodGet, "/recordings/"+good); code != 403 {
		t.Errorf("expired: %d, want 403", code)
	}
	// Link refuses what is not under a directory.
	for _, p := range []string{filepath.Join(f.other, "passwd.wav"), filepath.Join(f.root, "../secret/passwd.wav"), "relative.wav", ""} {
		if _, err := f.rec.Link("acme", "c", p, 0); err == nil {
			t.Errorf("Link(%q) worked", p)
		}
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func stdB64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestRecordingLinkFuncAndKey(t *testing.T) {
	dir := t.TempDir()
	rec, err := NewRecordings(RecordingsOptions{Dirs: []string{dir}, Key: bytes.Repeat([]byte{1}, 32), PublicURL: "https://x.example"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := rec.LinkFunc()(context.Background(), events.Call{Tenant: "acme", CallID: "c1", Recording: filepath.Join(dir, "a.wav")})
	if err != nil || !strings.HasPrefix(l, "https://x.example/recordings/") {
		t.Fatalf("LinkFunc = %q, %v", l, err)
	}
	if _, err := NewRecordings(RecordingsOptions{Dirs: []string{dir}, Key: []byte("short")}); err == nil {
		t.Error("short key accepted")
	}
	if _, err := NewRecordings(RecordingsOptions{Dirs: []string{"rel"}, Key: bytes.Repeat([]byte{1}, 32)}); err == nil {
		t.Error("relative dir accepted")
	}
	for name, content := range map[string]string{
		"hex": strings.Repeat("ab", 32) + "\n", "b64": stdB64(bytes.Repeat([]byte{9}, 32)) + "\n",
	} {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(content), 0o600)
		if k, err := LoadRecordingKey(p); err != nil || len(k) != 32 {
			t.Errorf("%s: %d bytes, %v", name, len(k), err)
		}
	}
	p := filepath.Join(dir, "short")
	_ = os.WriteFile(p, []byte("abc\n"), 0o600)
	if _, err := LoadRecordingKey(p); err == nil {
		t.Error("short key file accepted")
	}
	for ext, want := range map[string]string{".wav": "audio/wav", ".WAV": "audio/wav", ".opus": "audio/ogg; codecs=opus",
		".ogg": "audio/ogg", ".gsm": "audio/x-gsm", ".xyz": "application/octet-stream"} {
		if got := AudioType(ext); got != want {
			t.Errorf("AudioType(%s) = %s", ext, got)
		}
	}
}
