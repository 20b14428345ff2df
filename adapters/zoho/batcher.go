package zoho

import (
	"context"
	"sync"
	"time"

	"github.com/ringside/ringside/pkg/fault"
)

// batcher gathers what callers submit at about the same time under one key
// into one request: Calls writes of a tenant, caller lookups of a tenant in
// one module. The first caller of a batch leads: it runs the request once
// the batch is full, its wait is over or its own context ends. The request
// belongs to every caller in the batch, so it runs even when the leader's
// context has ended. The zero value is ready to use.
type batcher[I, R any] struct {
	mu   sync.Mutex
	open map[string]*pendingBatch[I, R]
}

type pendingBatch[I, R any] struct {
	items []I
	full  chan struct{} // closed when the batch is full
	done  chan struct{} // closed when res and err are set
	res   R
	err   error
}

// do adds item to key's open batch (capacity items at most) and waits for
// the request's result, returned with item's index in the batch. run gets
// the batch's items and a context bounded by timeout. A caller whose ctx
// ends before the result gets a retryable error; the request may still run.
func (b *batcher[I, R]) do(ctx context.Context, key string, item I, capacity int, wait, timeout time.Duration,
	run func(ctx context.Context, items []I) (R, error)) (R, int, error) {
	b.mu.Lock()
	if b.open == nil {
		b.open = map[string]*pendingBatch[I, R]{}
	}
	p := b.open[key]
	leader := p == nil
	if leader {
		p = &pendingBatch[I, R]{full: make(chan struct{}), done: make(chan struct{})}
		b.open[key] = p
	}
	i := len(p.items)
	p.items = append(p.items, item)
	if len(p.items) >= capacity {
		delete(b.open, key)
		close(p.full)
	}
	b.mu.Unlock()

	if !leader {
		select {
		case <-p.done:
			return p.res, i, p.err
		case <-ctx.Done():
			var zero R
			return zero, i, fault.Retryable(ctx.Err(), 0)
		}
	}
	t := time.NewTimer(wait)
	select {
	case <-p.full:
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	b.mu.Lock()
	if b.open[key] == p {
		delete(b.open, key)
	}
	items := p.items
	b.mu.Unlock()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
	p.res, p.err = run(rctx, items)
	cancel()
	close(p.done)
	return p.res, i, p.err
}
