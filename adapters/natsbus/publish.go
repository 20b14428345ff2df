package natsbus

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/ringside/ringside/pkg/fault"
)

// Publish stores data on subject in the stream, with msgID as Nats-Msg-Id,
// and waits for the stream's acknowledgement (bounded by ctx, else 5s). A
// msgID already stored inside the duplicate window is success: the message is
// stored once. Errors are fault.Retryable (not connected, timeout, stream
// unavailable, server errors) or fault.Permanent (empty id, a subject the
// stream does not hold, a message too large, a rejected request).
func (b *Bus) Publish(ctx context.Context, subject, msgID string, data []byte) error {
	return b.PublishCall(ctx, subject, msgID, "", data)
}

// PublishCall is Publish with the call id in the Ringside-Call-Id header, the
// key consumers use to keep one call's messages in order on one worker.
func (b *Bus) PublishCall(ctx context.Context, subject, msgID, callID string, data []byte) error {
	start := time.Now()
	dup, err := b.publish(ctx, subject, msgID, callID, data)
	b.m.publishTime.Observe(time.Since(start).Seconds())
	switch {
	case err != nil:
		b.m.published.WithLabelValues(resultError).Inc()
		return err
	case dup:
		b.m.published.WithLabelValues(resultDuplicate).Inc()
	default:
		b.m.published.WithLabelValues(resultOK).Inc()
	}
	return nil
}

func (b *Bus) publish(ctx context.Context, subject, msgID, callID string, data []byte) (bool, error) {
	wrap := func(err error) error { return fmt.Errorf("natsbus: publish %s: %w", subject, err) }
	switch {
	case msgID == "":
		return false, fault.Permanent(wrap(errors.New("empty message id")))
	case !b.holds(subject):
		return false, fault.Permanent(wrap(fmt.Errorf("subject not in stream %s", b.o.Stream)))
	case b.closed.Load():
		return false, fault.Retryable(wrap(ErrClosed), 0)
	case !b.nc.IsConnected():
		return false, fault.Retryable(wrap(ErrDisconnected), 0)
	}
	msg := nats.NewMsg(subject)
	msg.Data = data
	msg.Header.Set(jetstream.MsgIDHeader, msgID)
	if callID != "" {
		msg.Header.Set(HeaderCallID, callID)
	}
	ack, err := b.js.PublishMsg(ctx, msg, jetstream.WithExpectStream(b.o.Stream))
	if err != nil {
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			b.recheck()
		}
		return false, wrap(classify(err))
	}
	return ack.Duplicate, nil
}

// holds reports whether subject is a literal subject one of the stream's
// subjects matches. Publishing anything else can never succeed.
func (b *Bus) holds(subject string) bool {
	if subject == "" || strings.ContainsAny(subject, "*> \t\r\n") {
		return false
	}
	for _, pattern := range b.o.Subjects {
		if subjectMatches(pattern, subject) {
			return true
		}
	}
	return false
}

// subjectMatches matches a literal subject against a pattern with the NATS
// wildcards: * is one token, > one or more trailing tokens.
func subjectMatches(pattern, subject string) bool {
	pt := strings.Split(pattern, ".")
	st := strings.Split(subject, ".")
	for i, p := range pt {
		if p == ">" {
			return len(st) > i
		}
		if i >= len(st) || st[i] == "" {
			return false
		}
		if p != "*" && p != st[i] {
			return false
		}
	}
	return len(pt) == len(st)
}

// classify marks an error of a NATS or JetStream call as fault.Retryable or
// fault.Permanent. Unknown errors are retryable: giving up is the caller's
// decision.
func classify(err error) error {
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrMaxPayload),
		errors.Is(err, jetstream.ErrInvalidSubject), errors.Is(err, nats.ErrHeadersNotSupported),
		errors.Is(err, jetstream.ErrStreamMessageExceedsMaximum):
		return fault.Permanent(err)
	case errors.As(err, &apiErr):
		return classifyAPI(err)
	default:
		// Timeouts, cancelled contexts, no responders, disconnects, a
		// closed or draining connection, invalid acks.
		return fault.Retryable(err, 0)
	}
}

// classifyAPI classifies a JetStream API error by its HTTP-like code: 408,
// 429, 5xx and non-API errors (timeouts, no responders) are retryable, other
// codes (400 bad request, 404 not found...) permanent. 503 "JetStream not
// enabled" is retryable: a cluster may still be forming.
func classifyAPI(err error) error {
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) {
		return fault.Retryable(err, 0)
	}
	switch c := apiErr.Code; {
	case c == 408, c == 429, c >= 500:
		return fault.Retryable(err, 0)
	default:
		return fault.Permanent(err)
	}
}
