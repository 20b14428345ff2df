package httpapi

import (
	"io"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// serveHTTP wraps the router: it times and counts every request, logs it at
// debug level, and turns a handler panic into a 500 and an error log line so
// one bad handler never takes the daemon down.
//
// The request log names the matched pattern, never the path or query: query
// strings and signed recording paths carry secrets.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &recorder{rw: w, handler: handlerOther}
	rec.Header().Set("X-Content-Type-Options", "nosniff")

	defer func() {
		p := recover()
		abort := false
		switch {
		case p == nil:
		case p == http.ErrAbortHandler:
			// The handler chose to cut the response: no log, no 500.
			abort = true
		default:
			s.log.Error("handler panic",
				zap.String("handler", rec.handler),
				zap.String("method", r.Method),
				zap.Any("panic", p),
				zap.StackSkip("stack", 1))
			if rec.status == 0 {
				// Drop whatever the handler prepared (Content-Encoding,
				// cookies...): the 500 stands alone.
				clear(rec.Header())
				http.Error(rec, "internal server error", http.StatusInternalServerError)
			} else {
				// Part of a response is out: cut the connection so the
				// client cannot take it for a complete one.
				abort = true
			}
		}

		status := rec.status
		if status == 0 && !abort {
			status = http.StatusOK // what net/http sends for an empty response
		}
		took := time.Since(start)
		s.metrics.observe(rec.handler, status, took)
		if ce := s.log.Check(zap.DebugLevel, "request"); ce != nil {
			ce.Write(
				zap.String("handler", rec.handler),
				zap.String("method", r.Method),
				zap.Int("status", status),
				zap.Int64("bytes", rec.bytes),
				zap.Duration("took", took),
				zap.String("remote", r.RemoteAddr))
		}
		if abort {
			panic(http.ErrAbortHandler)
		}
	}()

	s.mux.ServeHTTP(rec, r)
}

// recorder remembers the status and size of a response and which mounted
// pattern served it. Unwrap lets http.ResponseController reach the real
// writer (deadlines, flushing, hijacking).
type recorder struct {
	rw      http.ResponseWriter
	handler string // set by the wrapper Handle installs
	status  int    // final status sent, 0 until then
	bytes   int64
}

func (r *recorder) Header() http.Header { return r.rw.Header() }

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 {
		r.status = code // 1xx are informational; the final status comes later
	}
	r.rw.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.rw.Write(b)
	r.bytes += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy (http.ServeContent) on the underlying writer's fast
// path (sendfile).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.rw, src)
	r.bytes += n
	return n, err
}

// Flush serves handlers that assert http.Flusher directly.
func (r *recorder) Flush() {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if f, ok := r.rw.(http.Flusher); ok {
		f.Flush()
	}
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.rw }
