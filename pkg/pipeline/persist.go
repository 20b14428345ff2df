package pipeline

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ringside/ringside/pkg/callstate"
)

// callsFile is where the calls in progress at shutdown wait for the next start.
const callsFile = "inflight-calls.json"

// SaveCalls writes the calls in progress to dir atomically (temp file, fsync,
// rename), so a crash while saving leaves the previous file or none.
func SaveCalls(dir string, calls []callstate.Snapshot) error {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	data, err := json.Marshal(calls)
	if err != nil {
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	tmp, err := os.CreateTemp(dir, callsFile+".*")
	if err != nil {
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, callsFile)); err != nil {
		return fmt.Errorf("pipeline: save calls: %w", err)
	}
	return nil
}

// TakeCalls reads the calls saved in dir and removes the file: they describe
// the moment of the last shutdown only, and are saved again at the next one.
// No file means no calls. A file that cannot be decoded is kept aside as
// <name>.bad for inspection and reported as an error.
func TakeCalls(dir string) ([]callstate.Snapshot, error) {
	path := filepath.Join(dir, callsFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pipeline: load calls: %w", err)
	}
	var calls []callstate.Snapshot
	if err := json.Unmarshal(data, &calls); err != nil {
		_ = os.Rename(path, path+".bad")
		return nil, fmt.Errorf("pipeline: load calls from %s (kept as %s.bad): %w", path, callsFile, err)
	}
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("pipeline: load calls: %w", err)
	}
	return calls, nil
}
