package natsbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"go.uber.org/zap"
)

// startEmbedded starts a nats-server with JetStream stored in o.DataDir and
// waits until it takes connections. It accepts clients on TCP only when
// o.Listen is set; otherwise the Bus connects in-process.
func startEmbedded(ctx context.Context, o Options, log *zap.Logger) (*server.Server, error) {
	if o.DataDir == "" {
		return nil, errors.New("natsbus: embedded server: data dir is required")
	}
	name := o.Name
	if name == "" {
		name = "ringside"
	}
	so := &server.Options{
		ServerName: name,
		JetStream:  true,
		StoreDir:   o.DataDir,
		DontListen: o.Listen == "",
		NoSigs:     true,
	}
	if o.Listen != "" {
		host, port, err := splitListen(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("natsbus: embedded server: listen %q: %w", o.Listen, err)
		}
		so.Host, so.Port = host, port
		if o.Token != "" {
			so.Authorization = o.Token
		} else {
			log.Warn("embedded nats server accepts clients without authentication", zap.String("listen", o.Listen))
		}
	}
	s, err := server.NewServer(so)
	if err != nil {
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	sl := &serverLog{l: log.Named("nats-server").Sugar()}
	s.SetLogger(sl, false, false)
	s.Start()

	// ReadyForConnections waits at most its argument; poll so that ctx, and
	// a fatal start error (which the server only logs), end the wait.
	deadline := time.Now().Add(readyTimeout)
	for !s.ReadyForConnections(100 * time.Millisecond) {
		err := sl.fatal()
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err == nil && time.Now().After(deadline) {
			err = fmt.Errorf("not ready after %s", readyTimeout)
		}
		if err != nil {
			s.Shutdown()
			s.WaitForShutdown()
			return nil, fmt.Errorf("natsbus: embedded server: %w", err)
		}
	}
	if err := sl.fatal(); err != nil {
		s.Shutdown()
		s.WaitForShutdown()
		return nil, fmt.Errorf("natsbus: embedded server: %w", err)
	}
	fields := []zap.Field{zap.String("store_dir", o.DataDir), zap.String("server_name", name)}
	if o.Listen != "" {
		fields = append(fields, zap.String("listen", s.ClientURL()))
	} else {
		fields = append(fields, zap.String("listen", "in-process only"))
	}
	log.Info("embedded nats server ready", fields...)
	return s, nil
}

// readyTimeout bounds the wait for the embedded server even when the
// caller's context has no deadline.
const readyTimeout = 30 * time.Second

// splitListen parses host:port; port 0 asks for a random free port.
func splitListen(addr string) (string, int, error) {
	host, ps, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", ps)
	}
	if port == 0 {
		port = server.RANDOM_PORT // 0 means "default 4222" to nats-server
	}
	return host, port, nil
}

// serverLog routes nats-server logs to zap. Notices (the start banner,
// stream recovery) are debug: Open logs one line of its own instead. Fatal
// is logged as an error and remembered, never an exit.
type serverLog struct {
	l        *zap.SugaredLogger
	mu       sync.Mutex
	fatalErr error
}

func (s *serverLog) fatal() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fatalErr
}

func (s *serverLog) Noticef(format string, v ...any) { s.l.Debugf(format, v...) }
func (s *serverLog) Warnf(format string, v ...any)   { s.l.Warnf(format, v...) }
func (s *serverLog) Errorf(format string, v ...any)  { s.l.Errorf(format, v...) }
func (s *serverLog) Debugf(format string, v ...any)  { s.l.Debugf(format, v...) }
func (s *serverLog) Tracef(format string, v ...any)  { s.l.Debugf(format, v...) }

func (s *serverLog) Fatalf(format string, v ...any) {
	s.l.Errorf(format, v...)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fatalErr == nil {
		s.fatalErr = fmt.Errorf(format, v...)
	}
}
