package natskv

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/ringside/ringside/pkg/store"
	"github.com/ringside/ringside/pkg/store/storetest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// node is an embedded nats-server with JetStream in dir and an in-process
// connection to it, as Ringside runs it when nats.url is empty.
type node struct {
	srv *server.Server
	nc  *nats.Conn
	js  jetstream.JetStream
}

func start(t *testing.T, dir string) *node {
	t.Helper()
	srv, err := server.NewServer(&server.Options{
		ServerName: "store-test", JetStream: true, StoreDir: dir, DontListen: true, NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatalf("nats server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		t.Fatal("nats server not ready")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv))
	if err != nil {
		srv.Shutdown()
		t.Fatalf("connect: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return &node{srv: srv, nc: nc, js: js}
}

func (n *node) stop() {
	n.nc.Close()
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
}

func newStore(t *testing.T, js jetstream.JetStream) *Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := New(ctx, js, "ringside")
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// fresh gives each test its own server and store directory; reopening
// restarts the server on the same directory.
func fresh(t *testing.T) storetest.Open {
	dir := t.TempDir()
	var n *node
	t.Cleanup(func() {
		if n != nil {
			n.stop()
		}
	})
	return func() store.Store {
		if n != nil {
			n.stop()
		}
		n = start(t, dir)
		return newStore(t, n.js)
	}
}

func TestContract(t *testing.T) { storetest.Run(t, fresh) }

func TestEscape(t *testing.T) {
	for _, s := range []string{"", "1001", "acme", "+4930123456", "a.b", "zoho/acme/log/pbx-01-1736935200.42:9", "=", "=2B", "ñ", "a b*>"} {
		e := escape(s)
		for i := 0; i < len(e); i++ {
			c := e[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '=') {
				t.Errorf("escape(%q) = %q: byte %q is not a plain key byte", s, e, c)
			}
		}
		if got := unescape(e); got != s {
			t.Errorf("unescape(escape(%q)) = %q", s, got)
		}
	}
}

func TestServerTTL(t *testing.T) {
	for d, want := range map[time.Duration]time.Duration{
		time.Millisecond: time.Second, time.Second: time.Second, 1500 * time.Millisecond: 2 * time.Second, time.Hour: time.Hour,
	} {
		if got := serverTTL(d); got != want {
			t.Errorf("serverTTL(%s) = %s, want %s", d, got, want)
		}
	}
}
