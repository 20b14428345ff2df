package asterisk

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/ringside/ringside/pkg/callstate"
)

// BenchmarkTranslate decodes and translates a realistic ARI event stream:
// every line of the Asterisk 22 captures (dialplan Dial to a Local phone
// answered, busy and unanswered, an ARI bridge with playback and recording,
// an ARI originate to PJSIP), replayed in a loop. Most of it is the noise
// subscribeAll brings (ChannelVarset, ChannelDialplan, DeviceStateChanged).
// One op is one event.
func BenchmarkTranslate(b *testing.B) {
	files, _ := filepath.Glob(filepath.Join("testdata", "captures", "*.jsonl"))
	var stream [][]byte
	for _, f := range files {
		stream = append(stream, readCapture(b, filepath.Base(f))...)
	}
	tr := NewTranslator(TranslatorOptions{})
	out := make([]callstate.Signal, 0, 16)
	now := time.Now()
	var signals int
	b.ReportAllocs()
	b.SetBytes(int64(avgLen(stream)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		out, _, _, err = tr.Translate(stream[i%len(stream)], now, out[:0])
		if err != nil {
			b.Fatal(err)
		}
		signals += len(out)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(signals)/float64(b.N), "signals/event")
}

func avgLen(s [][]byte) int {
	n := 0
	for _, l := range s {
		n += len(l)
	}
	return n / len(s)
}
