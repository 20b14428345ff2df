package fault

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestClassificationSurvivesWrapping(t *testing.T) {
	base := errors.New("zoho: 503")
	r := fmt.Errorf("log call c1: %w", Retryable(base, 3*time.Second))
	if IsPermanent(r) {
		t.Fatal("retryable error reported permanent")
	}
	if got := RetryAfter(r); got != 3*time.Second {
		t.Fatalf("RetryAfter = %v, want 3s", got)
	}
	if !errors.Is(r, base) {
		t.Fatal("wrapped cause lost")
	}
	p := fmt.Errorf("log call c1: %w", Permanent(errors.New("INVALID_DATA")))
	if !IsPermanent(p) || RetryAfter(p) != 0 {
		t.Fatal("permanent error misclassified")
	}
	if IsPermanent(errors.New("plain")) {
		t.Fatal("plain error reported permanent")
	}
	if Retryable(nil, time.Second) != nil || Permanent(nil) != nil {
		t.Fatal("nil error became non-nil")
	}
}
