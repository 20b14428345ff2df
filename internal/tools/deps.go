//go:build tools

// Package tools pins modules that packages under construction depend on, so
// parallel work never has to edit go.mod. Removed once every import is real.
package tools
import (
 _ "github.com/nats-io/nats-server/v2/server"
 _ "github.com/nats-io/nats.go"
 _ "github.com/nats-io/nats.go/jetstream"
 _ "go.uber.org/zap"
 _ "github.com/prometheus/client_golang/prometheus"
 _ "github.com/prometheus/client_golang/prometheus/testutil/promlint"
 _ "go.uber.org/goleak"
 _ "golang.org/x/sync/errgroup"
 _ "github.com/coreos/go-systemd/v22/daemon"
 _ "gopkg.in/yaml.v3"
 _ "github.com/redis/go-redis/v9"
)
