// Package health owns readiness: components register a check, and the
// registry answers whether Ringside can take work and, if not, what is wrong.
// Liveness is not its business: a process that can answer is alive.
package health

import (
	"errors"
	"sort"
	"sync"
)

// ErrDraining is reported while Ringside shuts down.
var ErrDraining = errors.New("shutting down")

// Check returns nil when its component is ready, else why it is not
// ("disconnected", "stream missing"...). It must be fast and never block.
type Check func() error

// Problem is one component that is not ready.
type Problem struct {
	Component string
	Err       error
}

func (p Problem) String() string { return p.Component + ": " + p.Err.Error() }

// Registry holds the named checks. The zero value is not usable; use New.
type Registry struct {
	mu       sync.RWMutex
	checks   map[string]Check
	draining bool
}

// New returns an empty registry: ready until a check says otherwise.
func New() *Registry { return &Registry{checks: make(map[string]Check)} }

// Register adds or replaces the check of a component.
func (r *Registry) Register(component string, c Check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks[component] = c
}

// Drain marks Ringside as shutting down: from now on it is never ready.
func (r *Registry) Drain() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.draining = true
}

// Problems runs every check and returns those that fail, sorted by component.
func (r *Registry) Problems() []Problem {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Problem
	if r.draining {
		out = append(out, Problem{Component: "ringside", Err: ErrDraining})
	}
	for name, c := range r.checks {
		if err := c(); err != nil {
			out = append(out, Problem{Component: name, Err: err})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Component < out[j].Component })
	return out
}
