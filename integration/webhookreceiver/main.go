// Command webhookreceiver receives Ringside's signed webhooks: it answers
// the verification handshake, rejects a delivery whose signature does not
// match or whose timestamp is outside the replay window, and handles each
// event once however often it is delivered. Standard library only.
//
//	RINGSIDE_WEBHOOK_SECRET=whsec_... go run ./integration/webhookreceiver -listen 127.0.0.1:8080
package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// replayWindow: deliveries signed longer ago (or ahead) are refused.
const replayWindow = 5 * time.Minute

// verify checks the Ringside-Signature header against the raw body.
func verify(secret []byte, header string, body []byte, now time.Time) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("malformed Ringside-Signature")
	}
	if d := now.Sub(time.Unix(unix, 0)); d > replayWindow || d < -replayWindow {
		return errors.New("timestamp outside the replay window")
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) { // constant time
			return nil
		}
	}
	return errors.New("signature does not match")
}

// receiver handles deliveries; handle is called once per event id.
type receiver struct {
	secret []byte
	handle func(id, typ string, data json.RawMessage)
	mu     sync.Mutex
	seen   map[string]bool // event ids handled; keep them in a database in production
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if err := verify(rc.secret, r.Header.Get("Ringside-Signature"), body, time.Now()); err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var env struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		Challenge string          `json:"challenge"`
		Data      json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		http.Error(w, "not JSON", http.StatusBadRequest)
		return
	}
	if env.Type == "ringside.verify" { // the handshake: echo the challenge
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"challenge": env.Challenge})
		return
	}
	rc.mu.Lock()
	first := !rc.seen[env.ID]
	rc.seen[env.ID] = true
	rc.mu.Unlock()
	if first { // a redelivery carries the same id: handle it once
		rc.handle(env.ID, env.Type, env.Data)
	}
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8080", "host:port to receive webhooks on")
	flag.Parse()
	secret := os.Getenv("RINGSIDE_WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set RINGSIDE_WEBHOOK_SECRET to the secret `ringside webhooks add` printed")
	}
	rc := &receiver{secret: []byte(secret), seen: map[string]bool{},
		handle: func(id, typ string, data json.RawMessage) { log.Printf("event %s %s %s", id, typ, data) }}
	log.Printf("listening on %s", *listen)
	log.Fatal(http.ListenAndServe(*listen, rc))
}
