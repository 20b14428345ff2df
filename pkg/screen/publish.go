package screen

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ringside/ringside/pkg/events"
	"github.com/ringside/ringside/pkg/pipeline"
)

// Publisher returns next with the events of screened calls marked on their
// way: each event of a call the Screener marked (Screened) carries its
// decision (Marks.Apply); events of other calls pass untouched. A call's
// id is the message id up to its last ':' (events.Call ids are
// "<call id>:<seq>").
func (s *Screener) Publisher(next pipeline.Publisher) pipeline.Publisher {
	return markingPublisher{next: next, marks: s.marks, now: s.o.Now}
}

// markingPublisher puts a call's screening decision on each of its events
// before publishing it.
type markingPublisher struct {
	next  pipeline.Publisher
	marks *Marks
	now   func() time.Time
}

func (p markingPublisher) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	if i := strings.LastIndexByte(msgID, ':'); i > 0 {
		if _, marked := p.marks.Get(msgID[:i], p.now()); marked {
			var e events.Call
			if json.Unmarshal(data, &e) == nil && p.marks.Apply(&e, p.now()) {
				if b, err := json.Marshal(e); err == nil {
					data = b
				}
			}
		}
	}
	return p.next.Publish(ctx, subject, msgID, data)
}
