// Package clicktocall_test runs click-to-call end to end on both PBX
// simulators through the real adapters: the Zoho simulator clicks a
// number, the click-to-dial handler authenticates it against the embedded
// store and sends the originate command over NATS request/reply to the
// node, which rings the default terminal registered with *037 / 3037, then
// the customer, and the state machine makes one outbound click_to_call
// call of it. Failures reach the Zoho simulator as clicktodialerror.
package clicktocall
