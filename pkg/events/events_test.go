package events

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

var t0 = time.Date(2026, 3, 14, 9, 26, 53, 589_000_000, time.UTC)

// samples are the payloads the golden files pin: one per shape consumers see.
func samples() map[string]Call {
	agents := []string{"1001", "1002", "1003"}
	return map[string]Call{
		"inbound_ringing": {
			V: Version, ID: MsgID("pbx-01-1736935200.42", 2), Type: Ringing,
			CallID: "pbx-01-1736935200.42", Seq: 2, Tenant: "acme", Node: "pbx-01", At: t0.Add(time.Second),
			Direction: Inbound, Origin: OriginPBX, External: "+4930123456", ExternalName: "Erika Mustermann",
			Dialed: "4930999000", Agent: "1002", Agents: agents[:2], StartedAt: t0,
		},
		"inbound_ring_stopped": {
			V: Version, ID: MsgID("pbx-01-1736935200.42", 4), Type: RingStopped,
			CallID: "pbx-01-1736935200.42", Seq: 4, Tenant: "acme", Node: "pbx-01", At: t0.Add(7 * time.Second),
			Direction: Inbound, Origin: OriginPBX, External: "+4930123456", Dialed: "4930999000",
			Agent: "1001", Reason: "answered_elsewhere", Agents: agents, AnsweredBy: "1002",
			StartedAt: t0, AnsweredAt: t0.Add(7 * time.Second),
		},
		"inbound_ended_transferred": {
			V: Version, ID: MsgID("pbx-01-1736935200.42", 9), Type: Ended,
			CallID: "pbx-01-1736935200.42", Seq: 9, Tenant: "acme", Node: "pbx-01", At: t0.Add(95 * time.Second),
			Direction: Inbound, Origin: OriginPBX, External: "+4930123456", Dialed: "4930999000",
			Agents: agents, AnsweredBy: "1003",
			StartedAt: t0, AnsweredAt: t0.Add(7 * time.Second), EndedAt: t0.Add(95 * time.Second),
			Disposition: DispositionAnswered, TalkSeconds: 88, HangupCause: "normal",
			Transfers:        []Transfer{{Kind: "blind", From: "1002", To: "1003", At: t0.Add(40 * time.Second)}},
			RecordingPending: true,
		},
		"inbound_blacklisted_ended": {
			V: Version, ID: MsgID("pbx-01-1736935300.51", 2), Type: Ended,
			CallID: "pbx-01-1736935300.51", Seq: 2, Tenant: "acme", Node: "pbx-01", At: t0.Add(40 * time.Millisecond),
			Direction: Inbound, Origin: OriginPBX, External: "+4990012345", Dialed: "4930999000", Reason: ReasonBlacklisted,
			StartedAt: t0, EndedAt: t0.Add(40 * time.Millisecond), Disposition: DispositionAbandoned, HangupCause: "busy",
			Screen: &Screen{Blacklisted: true},
		},
		"inbound_owner_routed_ended": {
			V: Version, ID: MsgID("pbx-01-1736935400.60", 7), Type: Ended,
			CallID: "pbx-01-1736935400.60", Seq: 7, Tenant: "acme", Node: "pbx-01", At: t0.Add(70 * time.Second),
			Direction: Inbound, Origin: OriginPBX, External: "+4930123456", ExternalName: "Eva Meyer", Dialed: "4930999000",
			Agents: []string{"1002"}, AnsweredBy: "1002", StartedAt: t0, AnsweredAt: t0.Add(5 * time.Second),
			EndedAt: t0.Add(70 * time.Second), Disposition: DispositionAnswered, TalkSeconds: 65, HangupCause: "normal",
			Screen: &Screen{CallerName: "Eva Meyer", Record: "Contacts/4150868000000225013", OwnerExtension: "1002"},
		},
		"outbound_click_to_call_ended": {
			V: Version, ID: MsgID("pbx-01-c2c-7f3a", 5), Type: Ended,
			CallID: "pbx-01-c2c-7f3a", Seq: 5, Tenant: "acme", At: t0.Add(30 * time.Second),
			Direction: Outbound, Origin: OriginClickToCall, External: "+34911234567", Caller: "1001",
			Agents: []string{"1001"}, StartedAt: t0, EndedAt: t0.Add(30 * time.Second),
			Disposition: DispositionBusy, HangupCause: "busy",
		},
		"recording": {
			V: Version, ID: MsgID("pbx-01-1736935200.42", 10), Type: Recording,
			CallID: "pbx-01-1736935200.42", Seq: 10, Tenant: "acme", At: t0.Add(96 * time.Second),
			Direction: Inbound, External: "+4930123456", AnsweredBy: "1003",
			Recording: "/var/spool/asterisk/monitor/2026/03/14/in-4930123456-1736935200.42.wav",
		},
		"terminal_set": {
			V: Version, ID: MsgID("pbx-01-1736935300.7", 1), Type: TerminalSet,
			CallID: "pbx-01-1736935300.7", Seq: 1, Tenant: "acme", At: t0,
			Terminal: &Terminal{Extension: "1001", Code: "3037", Device: "PJSIP/1001-mobile", Mobile: "+34600111222"},
		},
	}
}

func TestGoldenJSON(t *testing.T) {
	for name, c := range samples() {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/events -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("payload changed; v1 allows additive changes only.\ngot:\n%s\nwant:\n%s", got, want)
			}
			var back Call
			if err := json.Unmarshal(want, &back); err != nil {
				t.Fatal(err)
			}
			again, _ := json.MarshalIndent(back, "", "  ")
			if !bytes.Equal(append(again, '\n'), want) {
				t.Errorf("golden payload does not round-trip:\n%s", again)
			}
		})
	}
}

// commandSamples are the command payloads the golden files pin.
func commandSamples() map[string]any {
	return map[string]any{
		"command_originate": Originate{V: Version, ID: "c2c-7f3a9b", Tenant: "acme", Extension: "1001", ZohoUser: "4150868000000225013",
			TerminalKind: TerminalMobile, Mobile: "+34600111222", Customer: "+4930123456", CustomerName: "Erika Mustermann", RequestedAt: t0},
		"command_callcontrol": CallControl{V: Version, ID: "cc-1a2b", Tenant: "acme", CallID: "pbx-01-1736935200.42",
			Action: ActionKeypress, Digits: "1#", Extension: "1001"},
		"command_reply": CommandReply{Code: "unknown_call", Error: "no such call"},
	}
}

func TestGoldenCommands(t *testing.T) {
	for name, c := range commandSamples() {
		t.Run(name, func(t *testing.T) {
			got, err := json.MarshalIndent(c, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", name+".golden.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./pkg/events -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("payload changed; v1 allows additive changes only.\ngot:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestSubjects(t *testing.T) {
	if got := CallSubject("acme", Ended); got != "ringside.v1.acme.call.ended" {
		t.Errorf("CallSubject = %q", got)
	}
	if got := CommandSubject("pbx-01", "originate"); got != "ringside.v1.cmd.pbx-01.originate" {
		t.Errorf("CommandSubject = %q", got)
	}
	if got := MsgID("pbx-01-1736935200.42", 12); got != "pbx-01-1736935200.42:12" {
		t.Errorf("MsgID = %q", got)
	}
}

func TestValidToken(t *testing.T) {
	for s, want := range map[string]bool{
		"acme": true, "pbx-01": true, "tenant_7": true,
		"": false, "cmd": false, "call": false, "deadletter": false, "a.b": false, "a*": false, "a>": false, "a b": false,
		"x\n": false, string(make([]byte, 65)): false,
	} {
		if got := ValidToken(s); got != want {
			t.Errorf("ValidToken(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestTenantToken(t *testing.T) {
	for name, want := range map[string]string{
		"acme": "acme", "acme.example.com": "acme_example_com", "pbx-01": "pbx-01",
		"": "", "cmd": "", "a*": "", "a b": "", ".": "_",
	} {
		if got := TenantToken(name); got != want {
			t.Errorf("TenantToken(%q) = %q, want %q", name, got, want)
		}
	}
}
