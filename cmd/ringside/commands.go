package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ringside/ringside/pkg/buildinfo"
	"github.com/ringside/ringside/pkg/config"
)

const defaultConfigPath = "/etc/ringside/ringside.yaml"

func cmdVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", "version", stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, buildinfo.Get())
	return nil
}

func cmdCheck(args, env []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", "check [-config FILE] [-print]", stderr)
	path := fs.String("config", defaultConfigPath, "configuration file to validate")
	print := fs.Bool("print", false, "print the effective configuration (secrets hidden)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := config.Load(*path, env)
	if err != nil {
		problems := splitJoined(err)
		for _, p := range problems {
			fmt.Fprintf(stderr, "%s: %v\n", *path, p)
		}
		return fmt.Errorf("%s: %d problem(s)", *path, len(problems))
	}
	if *print {
		fmt.Fprint(stdout, cfg.Redacted())
	}
	fmt.Fprintf(stdout, "%s: ok\n", *path)
	return nil
}

// splitJoined lists the problems inside an errors.Join, or err alone.
func splitJoined(err error) []error {
	var j interface{ Unwrap() []error }
	if errors.As(err, &j) {
		return j.Unwrap()
	}
	return []error{err}
}

func cmdServe(ctx context.Context, args, env []string, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [-config FILE]", stderr)
	path := fs.String("config", defaultConfigPath, "configuration file")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := loadConfig(*path, env, stderr)
	if err != nil {
		return err
	}
	log, err := newLogger(cfg.Log.Level, cfg.Log.Format, stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	return runDaemon(ctx, cfg, log, daemonHooks{pbx: newPBX(cfg, log)})
}

// loadConfig loads the configuration, printing every problem on stderr.
func loadConfig(path string, env []string, stderr io.Writer) (config.Config, error) {
	cfg, err := config.Load(path, env)
	if err != nil {
		for _, p := range splitJoined(err) {
			fmt.Fprintf(stderr, "%s: %v\n", path, p)
		}
		return cfg, fmt.Errorf("%s: invalid configuration", path)
	}
	return cfg, nil
}
