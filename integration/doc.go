// Package integration holds what tests Ringside as a whole: the protocol
// simulators that stand in for Asterisk, FreeSWITCH and Zoho, the PBX
// conformance suite, end-to-end tests of the built binary, and the tests that
// enforce the project's conventions.
package integration
