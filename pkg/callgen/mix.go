package callgen

import (
	"container/heap"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
)

// Weights gives each scenario's share of a Mix, indexed by Scenario.
type Weights [Scenarios]int

// DefaultWeights is a plausible day of a small call centre: mostly inbound
// calls answered by one agent or a ring group and outbound calls, some missed,
// abandoned and busy, a few transfers, click-to-calls and feature codes.
func DefaultWeights() Weights {
	var w Weights
	w[InboundAnswered] = 24
	w[InboundRingGroup] = 16
	w[InboundHunt] = 5
	w[InboundMissed] = 6
	w[InboundAbandoned] = 6
	w[InboundBusy] = 2
	w[OutboundAnswered] = 18
	w[OutboundNoAnswer] = 4
	w[OutboundBusy] = 2
	w[OutboundFailed] = 1
	w[OutboundCancelled] = 2
	w[InternalAnswered] = 4
	w[BlindTransfer] = 3
	w[AttendedTransfer] = 2
	w[ClickToCallAnswered] = 3
	w[ClickToCallUnanswered] = 1
	w[FeatureCodeDesk] = 1
	w[FeatureCodeMobile] = 1
	return w
}

// Config configures a Generator.
type Config struct {
	Rand       *rand.Rand // the only source of randomness (default: a fixed seed)
	Concurrent int        // calls in progress at once (default 50)
	Calls      int        // calls to generate; 0: no end
	Prefix     string     // leg ids are Prefix + a counter (default "leg-")
	Tenants    []string   // tenants to spread calls over (default "default")
	Start      time.Time  // time of the first signal (default 2026-03-02 09:00 UTC)
	Weights    Weights    // scenario shares (all zero: DefaultWeights)
	// Recorded is the share, in percent, of answered calls that are
	// recorded (default 30; negative: none).
	Recorded int
}

// Generator interleaves many concurrent scripted calls into one stream of
// signals in time order (each call's own order kept), one signal at a time.
type Generator struct {
	c       Config
	ids     IDs
	total   int
	started int
	queue   scripts
	order   uint64
}

// NewGenerator returns a Generator for c.
func NewGenerator(c Config) *Generator {
	if c.Rand == nil {
		c.Rand = rand.New(rand.NewPCG(1, 2))
	}
	if c.Concurrent <= 0 {
		c.Concurrent = 50
	}
	if c.Prefix == "" {
		c.Prefix = "leg-"
	}
	if len(c.Tenants) == 0 {
		c.Tenants = []string{"default"}
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	}
	if c.Weights == (Weights{}) {
		c.Weights = DefaultWeights()
	}
	total := 0
	for _, w := range c.Weights {
		total += max(w, 0)
	}
	if total == 0 {
		c.Weights = DefaultWeights()
		for _, w := range c.Weights {
			total += w
		}
	}
	if c.Recorded == 0 {
		c.Recorded = 30
	}
	g := &Generator{c: c, ids: IDs{Prefix: c.Prefix}, total: total}
	at := c.Start
	for i := 0; i < c.Concurrent && g.more(); i++ {
		g.startCall(at)
		at = at.Add(time.Duration(c.Rand.IntN(2000)) * time.Millisecond)
	}
	return g
}

// Started returns how many calls the generator has started.
func (g *Generator) Started() int { return g.started }

// Next returns the next signal, or false when the configured number of calls
// is done.
func (g *Generator) Next() (callstate.Signal, bool) {
	if len(g.queue) == 0 {
		return callstate.Signal{}, false
	}
	e := g.queue[0]
	s := e.sig[e.pos]
	e.pos++
	if e.pos < len(e.sig) {
		heap.Fix(&g.queue, 0)
		return s, true
	}
	heap.Pop(&g.queue)
	if g.more() {
		g.startCall(s.At.Add(time.Duration(g.c.Rand.IntN(500)) * time.Millisecond))
	}
	return s, true
}

func (g *Generator) more() bool { return g.c.Calls <= 0 || g.started < g.c.Calls }

func (g *Generator) startCall(at time.Time) {
	g.started++
	sig := Script(g.RandomCall(), &g.ids, at)
	if len(sig) == 0 {
		return
	}
	g.order++
	heap.Push(&g.queue, &entry{sig: sig, order: g.order})
}

// RandomCall draws a call from the generator's weights: random scenario,
// flavor, tenant, numbers, agents and durations.
func (g *Generator) RandomCall() Call {
	r := g.c.Rand
	n := r.IntN(g.total)
	sc := Scenario(0)
	for i, w := range g.c.Weights {
		if w <= 0 {
			continue
		}
		if n < w {
			sc = Scenario(i)
			break
		}
		n -= w
	}
	c := Call{
		Scenario: sc,
		Flavor:   Flavor(r.IntN(2)),
		Tenant:   g.c.Tenants[r.IntN(len(g.c.Tenants))],
		External: RandomNumber(r),
		Name:     names[r.IntN(len(names))],
		DID:      "+49309990" + pad3(r.IntN(1000)),
		Ring:     time.Duration(2+r.IntN(18)) * time.Second,
		Talk:     time.Duration(15+r.IntN(300)) * time.Second,
	}
	agents := 2
	if sc == InboundRingGroup || sc == InboundHunt || sc == InboundMissed || sc == InboundAbandoned {
		agents = 2 + r.IntN(3)
	}
	c.Agents = distinctExtensions(r, agents)
	c.Winner = r.IntN(agents)
	if sc == FeatureCodeMobile {
		c.Mobile = "+4917" + strconv.Itoa(10000000+r.IntN(90000000))
	}
	if g.c.Recorded > 0 && r.IntN(100) < g.c.Recorded {
		c.Recording = RecordingBeforeEnd + Recording(r.IntN(2))
	}
	return c
}

// Mix returns every signal of c.Calls calls (c.Calls must be > 0).
func Mix(c Config) []callstate.Signal {
	if c.Calls <= 0 {
		return nil
	}
	g := NewGenerator(c)
	out := make([]callstate.Signal, 0, c.Calls*16)
	for {
		s, ok := g.Next()
		if !ok {
			return out
		}
		out = append(out, s)
	}
}

var names = [...]string{
	"Anna Schmidt", "Lukas Müller", "Carmen García", "Javier López", "Emily Johnson",
	"Michael Brown", "Sophie Martin", "Oliver Smith", "", "",
}

// RandomNumber returns a plausible E.164 number in Germany, Spain, the US,
// the UK or France.
func RandomNumber(r *rand.Rand) string {
	switch r.IntN(5) {
	case 0:
		areas := [...]string{"30", "40", "89", "221", "69"}
		return "+49" + areas[r.IntN(len(areas))] + strconv.Itoa(1000000+r.IntN(9000000))
	case 1:
		areas := [...]string{"91", "93", "96", "95"}
		return "+34" + areas[r.IntN(len(areas))] + strconv.Itoa(1000000+r.IntN(9000000))
	case 2:
		areas := [...]string{"212", "415", "617", "312", "305"}
		return "+1" + areas[r.IntN(len(areas))] + strconv.Itoa(2000000+r.IntN(8000000))
	case 3:
		return "+4420" + strconv.Itoa(70000000+r.IntN(20000000))
	}
	return "+331" + strconv.Itoa(40000000+r.IntN(50000000))
}

// distinctExtensions returns n different extensions in 1001–1099.
func distinctExtensions(r *rand.Rand, n int) []string {
	out := make([]string, 0, n)
	for len(out) < n {
		e := strconv.Itoa(1001 + r.IntN(99))
		dup := false
		for _, x := range out {
			dup = dup || x == e
		}
		if !dup {
			out = append(out, e)
		}
	}
	return out
}

func pad3(n int) string {
	s := strconv.Itoa(n)
	for len(s) < 3 {
		s = "0" + s
	}
	return s
}

// entry is one call's script in the merge.
type entry struct {
	sig   []callstate.Signal
	pos   int
	order uint64 // start order: ties keep it
}

// scripts is a min-heap of entries by the time of their next signal.
type scripts []*entry

func (q scripts) Len() int { return len(q) }
func (q scripts) Less(i, j int) bool {
	a, b := q[i].sig[q[i].pos].At, q[j].sig[q[j].pos].At
	if a.Equal(b) {
		return q[i].order < q[j].order
	}
	return a.Before(b)
}
func (q scripts) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *scripts) Push(x any)   { *q = append(*q, x.(*entry)) }
func (q *scripts) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}
