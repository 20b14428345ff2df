// Package clicktocall owns click-to-call from Zoho, default terminals and
// PhoneBridge call control, as PBX-neutral logic behind narrow interfaces:
//
//   - Service is the HTTP side (Zoho's clicktodialuri): it authenticates
//     the click with the user's per-user secret, maps the Zoho user to the
//     tenant's extension and its default terminal, drops a double click,
//     and sends an events.Originate command to the node that owns the PBX.
//     It answers Zoho as soon as that node accepted the command.
//   - Node is the PBX side: it turns the command into a Request for its
//     Originator (the Asterisk or FreeSWITCH adapter), runs it in a
//     goroutine it owns, and reports every failure to the user through
//     Reporter (Zoho's clicktodialerror), the log and metrics.
//   - Terminals keeps the default terminal of every extension from the
//     terminal_set call events (*037 / 3037) and offers list, show and
//     reset to the CLI and the admin API.
//   - Control serves the PhoneBridge call-control URIs and Controller
//     executes them on the node.
//
// Nothing here imports an adapter: the store, NATS, Zoho and the PBX are
// reached through the interfaces declared in this package, which
// store.Store, *zoho.Client and the PBX adapters satisfy.
package clicktocall
