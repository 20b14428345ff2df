package main

import "context"

// mountPortal mounts the web portal.
func mountPortal(ctx context.Context, a adminSide) error { return nil }
