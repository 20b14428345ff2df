package httpapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/ringside/ringside/pkg/events"
)

// Recordings serves call recordings that stay on the PBX host at
// <public_url>/recordings/<token>. A token is signed (HMAC-SHA256 with the
// key of recordings.key_file) and expires; it carries the tenant, the call
// id and the file's path relative to one of the configured recording
// directories, never an absolute path. Mount it with
//
//	srv.Handle("GET /recordings/{token}", rec)
//
// Answers: 200/206 with the file (Range, If-Modified-Since and HEAD through
// http.ServeContent), 403 for a token whose signature is wrong or that
// expired, 404 for a malformed token or a file that is missing, not regular
// or outside the directories (a ".." or a symlink leading out). Bodies never
// name a path.
type Recordings struct {
	roots  []string // cleaned absolute directories
	key    []byte
	base   string // public URL without trailing slash
	ttl    time.Duration
	now    func() time.Time
	log    *zap.Logger
	minBps int64
}

// RecordingsOptions configure Recordings.
type RecordingsOptions struct {
	// Dirs are the directories recordings may be served from (absolute).
	Dirs []string
	// Key signs the tokens: at least 32 bytes (LoadRecordingKey).
	Key []byte
	// PublicURL is http.public_url; links are PublicURL + /recordings/<token>.
	PublicURL string
	// TTL is how long a link made by LinkFunc stays valid (30 days).
	TTL    time.Duration
	Now    func() time.Time // time.Now
	Logger *zap.Logger
}

// recordingTokenVersion prefixes what is signed, so a token of another
// kind or version never verifies as a recording token.
const recordingTokenVersion = "ringside-recording-v1\x00"

// Minimum throughput the write deadline allows for, and its bounds.
const (
	recordingMinBytesPerSec = 16 << 10
	recordingMaxWrite       = 2 * time.Hour
)

// NewRecordings checks the options: every directory must be absolute, the
// key at least 32 bytes.
func NewRecordings(o RecordingsOptions) (*Recordings, error) {
	if len(o.Key) < 32 {
		return nil, errors.New("recordings: the signing key must be at least 32 bytes")
	}
	if len(o.Dirs) == 0 {
		return nil, errors.New("recordings: no recording directory configured")
	}
	r := &Recordings{key: append([]byte(nil), o.Key...), base: strings.TrimRight(o.PublicURL, "/"),
		ttl: o.TTL, now: o.Now, log: o.Logger, minBps: recordingMinBytesPerSec}
	for _, d := range o.Dirs {
		if !filepath.IsAbs(d) {
			return nil, fmt.Errorf("recordings: directory %q is not absolute", d)
		}
		r.roots = append(r.roots, filepath.Clean(d))
	}
	if r.ttl <= 0 {
		r.ttl = 30 * 24 * time.Hour
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = zap.NewNop()
	}
	r.log = r.log.Named("recordings")
	return r, nil
}

// LoadRecordingKey reads the signing key from a file: 32 or more raw bytes,
// or hex or base64 of 32 or more bytes (surrounding whitespace ignored).
// Make one with `head -c32 /dev/urandom | base64`.
func LoadRecordingKey(file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("recordings: key: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if k, err := hex.DecodeString(s); err == nil && len(k) >= 32 {
		return k, nil
	}
	if k, err := base64.StdEncoding.DecodeString(s); err == nil && len(k) >= 32 {
		return k, nil
	}
	if len(b) >= 32 && !isText(b) {
		return b, nil
	}
	if len(s) >= 43 { // a long random text (a passphrase) is a fine key too
		return []byte(s), nil
	}
	return nil, errors.New("recordings: key file must hold at least 32 bytes (raw, hex or base64)")
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\n' && c != '\r' && c != '\t' || c >= 0x7f {
			return false
		}
	}
	return true
}

// recordingClaims is the signed payload of a token.
type recordingClaims struct {
	Tenant string `json:"t"`
	CallID string `json:"c"`
	Path   string `json:"p"` // slash-separated, relative to a root
	Exp    int64  `json:"e"` // unix seconds
}

// ErrNotARecording: the path is not under a configured recording directory.
var ErrNotARecording = errors.New("not under a recording directory")

// Link returns the public URL of the recording at path (absolute, under one
// of the directories) for the call, valid for ttl (the configured TTL when
// ttl <= 0).
func (r *Recordings) Link(tenant, callID, file string, ttl time.Duration) (string, error) {
	tok, err := r.Token(tenant, callID, file, ttl)
	if err != nil {
		return "", err
	}
	return r.base + "/recordings/" + tok, nil
}

// LinkFunc adapts Link to the Zoho sink's RecordingLink hook
// (zoho.SinkOptions.RecordingLink).
func (r *Recordings) LinkFunc() func(context.Context, events.Call) (string, error) {
	return func(_ context.Context, ev events.Call) (string, error) {
		return r.Link(ev.Tenant, ev.CallID, ev.Recording, 0)
	}
}

// Token signs a token for the recording at file.
func (r *Recordings) Token(tenant, callID, file string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = r.ttl
	}
	rel, ok := r.relative(file)
	if !ok {
		return "", fmt.Errorf("recordings: link for call %s: %w", callID, ErrNotARecording)
	}
	c := recordingClaims{Tenant: tenant, CallID: callID, Path: rel, Exp: r.now().Add(ttl).Unix()}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("recordings: link for call %s: %w", callID, err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString(payload) + "." + enc.EncodeToString(r.sign(payload)), nil
}

func (r *Recordings) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, r.key)
	m.Write([]byte(recordingTokenVersion))
	m.Write(payload)
	return m.Sum(nil)
}

// relative returns file relative to the first root that holds it
// (lexically), slash-separated.
func (r *Recordings) relative(file string) (string, bool) {
	if !filepath.IsAbs(file) {
		return "", false
	}
	file = filepath.Clean(file)
	for _, root := range r.roots {
		rel, err := filepath.Rel(root, file)
		if err != nil || !filepath.IsLocal(rel) {
			continue
		}
		return filepath.ToSlash(rel), true
	}
	return "", false
}

// errRecording is a refusal with its status; the reason is logged at debug,
// never shown.
type errRecording struct {
	status int
	reason string
}

func (e *errRecording) Error() string { return e.reason }

// verify checks a token and returns its claims.
func (r *Recordings) verify(tok string) (recordingClaims, error) {
	var c recordingClaims
	p, s, ok := strings.Cut(tok, ".")
	enc := base64.RawURLEncoding
	payload, err1 := enc.DecodeString(p)
	sig, err2 := enc.DecodeString(s)
	if !ok || err1 != nil || err2 != nil || len(tok) > 4096 {
		return c, &errRecording{http.StatusNotFound, "malformed token"}
	}
	if !hmac.Equal(sig, r.sign(payload)) {
		return c, &errRecording{http.StatusForbidden, "bad signature"}
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return c, &errRecording{http.StatusNotFound, "malformed claims"}
	}
	if r.now().Unix() >= c.Exp {
		return c, &errRecording{http.StatusForbidden, "expired"}
	}
	return c, nil
}

// open finds the file of a relative path under the roots: the path must be
// local (no "..", not absolute), and once symlinks are resolved it must
// still lie under the (resolved) root and be a regular file.
func (r *Recordings) open(rel string) (*os.File, fs.FileInfo, error) {
	notFound := &errRecording{http.StatusNotFound, "no such recording"}
	local := filepath.FromSlash(rel)
	if rel == "" || strings.ContainsRune(rel, 0) || !filepath.IsLocal(local) || path.Clean(rel) != rel {
		return nil, nil, &errRecording{http.StatusNotFound, "path not local"}
	}
	for _, root := range r.roots {
		realRoot, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue
		}
		real, err := filepath.EvalSymlinks(filepath.Join(root, local))
		if err != nil {
			continue
		}
		in, err := filepath.Rel(realRoot, real)
		if err != nil || !filepath.IsLocal(in) {
			return nil, nil, &errRecording{http.StatusNotFound, "path escapes its directory"}
		}
		f, err := os.Open(real)
		if err != nil {
			continue
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() {
			f.Close()
			return nil, nil, &errRecording{http.StatusNotFound, "not a regular file"}
		}
		return f, st, nil
	}
	return nil, nil, notFound
}

// ServeHTTP serves GET and HEAD /recordings/{token}.
func (r *Recordings) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	tok := req.PathValue("token")
	if tok == "" {
		tok = path.Base(req.URL.Path)
	}
	h := w.Header()
	h.Set("Cache-Control", "private, no-store")
	c, err := r.verify(tok)
	var f *os.File
	var st fs.FileInfo
	if err == nil {
		f, st, err = r.open(c.Path)
	}
	if err != nil {
		status := http.StatusNotFound
		var er *errRecording
		if errors.As(err, &er) {
			status = er.status
		}
		r.log.Debug("recording refused", zap.Int("status", status), zap.String("reason", err.Error()),
			zap.String("call_id", c.CallID), zap.String("tenant", c.Tenant))
		http.Error(w, strings.ToLower(http.StatusText(status)), status)
		return
	}
	defer f.Close()
	// A long file on a slow link outlives the server's WriteTimeout: allow
	// for recordingMinBytesPerSec.
	d := 30*time.Second + time.Duration(st.Size()/r.minBps)*time.Second
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(min(d, recordingMaxWrite)))
	ext := strings.ToLower(path.Ext(c.Path))
	h.Set("Content-Type", AudioType(ext))
	h.Set("Content-Disposition", fmt.Sprintf("inline; filename=%q", safeName(c.CallID)+ext))
	h.Set("Accept-Ranges", "bytes")
	http.ServeContent(w, req, "", st.ModTime(), f)
}

// AudioType is the Content-Type of a recording by its extension (".wav").
func AudioType(ext string) string {
	switch strings.ToLower(ext) {
	case ".wav", ".wav49":
		return "audio/wav"
	case ".mp3":
		return "audio/mpeg"
	case ".ogg", ".oga":
		return "audio/ogg"
	case ".opus":
		return "audio/ogg; codecs=opus"
	case ".gsm":
		return "audio/x-gsm"
	case ".flac":
		return "audio/flac"
	case ".m4a", ".mp4":
		return "audio/mp4"
	case ".webm":
		return "audio/webm"
	case ".ulaw", ".ul", ".pcmu":
		return "audio/basic"
	case ".alaw", ".al", ".pcma":
		return "audio/x-alaw-basic"
	case ".g722":
		return "audio/G722"
	case ".sln", ".raw":
		return "audio/L16;rate=8000"
	case ".sln16":
		return "audio/L16;rate=16000"
	}
	return "application/octet-stream"
}

// safeName keeps a call id usable as a file name in a header.
func safeName(s string) string {
	out := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, s)
	if out == "" {
		return "recording"
	}
	return out
}
