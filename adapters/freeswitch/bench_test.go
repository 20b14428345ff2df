package freeswitch

import (
	"bytes"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
	"github.com/ringside/ringside/pkg/config"
)

// BenchmarkParseTranslate measures the adapter's CPU path for one event:
// frame parsing from a buffered stream, event parsing (URL decoding,
// indexing) and translation. The events are the real FreeSWITCH 1.11
// captures, 65 events of 1.5–4 KB each, in their order. One op = one event.
func BenchmarkParseTranslate(b *testing.B) {
	var wire []byte
	n := 0
	for _, file := range []string{"testdata/01-loopback-echo.jsonl", "testdata/03-sofia-out-to-sipp-uas.jsonl"} {
		for _, hs := range captureEvents(b, file) {
			wire = append(wire, wireEvent(hs)...)
			n++
		}
	}
	tr := NewTranslator(TranslateOptions{DefaultTenant: "acme", Tenant: config.TenantRule{From: config.TenantVariable, Variable: "domain_name"}})
	sigs := make([]callstate.Signal, 0, 4)
	now := time.Now()
	r := bytes.NewReader(wire)
	fr := newFrameReader(r, Limits{}, 64<<10)
	b.SetBytes(int64(len(wire) / n))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%n == 0 {
			r.Reset(wire)
		}
		f, err := fr.Next()
		if err != nil {
			b.Fatal(err)
		}
		e := ParseEvent(f.Body)
		sigs = tr.Translate(&e, now, sigs[:0])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
